/**
 * Routing feedback from the workflow: every routed task that reaches a verdict, or whose agent
 * fails by its own fault, updates the agent's statistics once; an infrastructure failure of the
 * agent's run feeds its circuit breaker instead. Never cut short by cancellation.
 */
import { CancellationScope, log } from '@temporalio/workflow';
import { AgentBudgetExceededError, AgentConfigError, AgentFailedError, PolicyViolationError } from '../domain/errors';
import { NO_COST_WEIGHTS, routingContextOf } from '../domain/routing-context';
import type { TaskError, VerdictOutcome } from '../domain/task';
import { recordAgentHealth, recordTaskOutcome } from './activity-proxies';
import { hasOwnPatch } from './patches';
import type { TaskRun } from './task-run';

/** Failures that count against the agent's success rate rather than against infrastructure. */
const AGENT_FAULTS = [AgentFailedError.type, AgentBudgetExceededError.type, PolicyViolationError.type];

function latencyMs(task: TaskRun): number {
  const routed = task.snapshot.history.find((h) => h.state === 'ROUTED');
  return routed ? Math.max(0, Date.now() - Date.parse(routed.at)) : 0;
}

async function safely(what: string, fn: () => Promise<unknown>): Promise<void> {
  await CancellationScope.nonCancellable(fn).catch((err: Error) =>
    log.warn(`${what} not recorded`, { error: err.message }),
  );
}

/** Reports the agent's infrastructure health for this run, once (the activity is idempotent per run). */
function reportHealth(task: TaskRun, agentId: string, ok: boolean): Promise<void> {
  const { tenantId, taskId } = task.input;
  return safely('agent health', () => recordAgentHealth({ tenantId, taskId, agentId, ok }));
}

/** What the outcome is recorded against: the spec's task type and context. */
type SpecFacts = Parameters<typeof routingContextOf>[0];

/**
 * Records the task's outcome for its agent, once (the activity is idempotent per run), in its
 * context and under the policy's cost term (the policy is read before routing, so it is there).
 */
function recordOutcome(
  task: TaskRun,
  agentId: string,
  spec: SpecFacts,
  outcome: VerdictOutcome,
  gates: { passed: number; total: number },
): Promise<void> {
  const { tenantId, taskId } = task.input;
  const { policy } = task.trustedPolicy();
  return safely('agent outcome', () =>
    recordTaskOutcome({
      tenantId,
      taskId,
      agentId,
      taskType: spec.mode,
      outcome,
      gatesPassed: gates.passed,
      gatesTotal: gates.total,
      latencyMs: latencyMs(task),
      agentMs: Math.round(task.agentTime),
      ...task.usage,
      context: routingContextOf(spec, policy, task.input.language),
      costWeights: policy.routingCost ?? NO_COST_WEIGHTS,
    }),
  );
}

/** After a verdict: the outcome, with partial credit for the gates that passed. */
export async function feedbackAfterVerdict(task: TaskRun, spec: SpecFacts): Promise<void> {
  const { routing, verdict, gates } = task.snapshot;
  if (!routing || !verdict) return;
  const passed = gates.filter((g) => g.status === 'pass').length;
  await recordOutcome(task, routing.agentId, spec, verdict.outcome, { passed, total: gates.length });
  await reportHealth(task, routing.agentId, true);
}

/**
 * After a failure in EXECUTING: the agent's fault is a FAIL outcome; any other failure of the
 * agent's own run is infrastructure, for its breaker. A failure before the agent ran (the
 * workspace: a submitter's bad `baseRef`, the repository's setup) says nothing about the agent,
 * and counting it would let any submitter open the agent's circuit for the tenant's other tasks. In
 * VERIFYING, the agent's fault (what it left refused before any gate could judge it) is a FAIL
 * outcome too: leaving such a thing must not spare an agent the FAIL its gates would have given.
 */
export async function feedbackAfterFailure(task: TaskRun, spec: SpecFacts, error: TaskError): Promise<void> {
  const routing = task.snapshot.routing;
  if (!routing) return;
  const agentFault = AGENT_FAULTS.includes(error.type);
  if (task.state === 'VERIFYING' && agentFault && hasOwnPatch('agent-fault-while-verifying')) {
    await recordOutcome(task, routing.agentId, spec, 'FAIL', { passed: 0, total: 0 });
    return;
  }
  if (task.state !== 'EXECUTING') return;
  if (agentFault) {
    await recordOutcome(task, routing.agentId, spec, 'FAIL', { passed: 0, total: 0 });
    return;
  }
  if (!task.failedInAgentRun && hasOwnPatch('agent-health-from-agent-run')) return;
  // A misconfigured agent fails every task: that trips the breaker like infrastructure does.
  log.warn('agent run failed for infrastructure reasons', {
    agentId: routing.agentId,
    type: error.type,
    config: error.type === AgentConfigError.type,
  });
  await reportHealth(task, routing.agentId, false);
}
