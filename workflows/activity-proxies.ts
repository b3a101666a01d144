/**
 * Activity stubs with an explicit timeout and retry policy each. Typed errors listed in
 * NON_RETRYABLE_ERROR_TYPES are never retried; everything else is infrastructure and is.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { ArbiterActivities } from '../activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import type { GateCommand } from '../domain/task';

/** `maximumAttempts` undefined means unlimited. */
function options(startToCloseTimeout: string, maximumAttempts: number | undefined, extra: Partial<ActivityOptions> = {}): ActivityOptions {
  return {
    startToCloseTimeout,
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
    ...extra,
  };
}

/** Recording a transition waits out a database outage (unlimited attempts) rather than failing the task. */
export const { recordTransition } = proxyActivities<ArbiterActivities>(options('30s', undefined));

export const { validateSpec } = proxyActivities<ArbiterActivities>(options('30s', 5));

export const { routeTask, issueVerdict } = proxyActivities<ArbiterActivities>(options('30s', 10));

export const { prepareWorkspace, measureDiff, checkBudgetAndScope, deliverChange } = proxyActivities<ArbiterActivities>(
  options('10m', 5),
);

/** Agents heartbeat; a dead worker is noticed within the heartbeat timeout and the run retried elsewhere. */
export const { executeAgent } = proxyActivities<ArbiterActivities>(options('30m', 3, { heartbeatTimeout: '30s' }));

/** Each gate gets its own deadline: its command timeout plus slack for setup and recording. */
export function runGateFor(gate: GateCommand) {
  return proxyActivities<ArbiterActivities>(
    options(`${gate.timeoutSeconds + 60}s`, 3, { heartbeatTimeout: '10s', summary: `gate ${gate.name}` }),
  ).runGate;
}
