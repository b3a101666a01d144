/**
 * Activity stubs, each with its own timeouts and retry policy. Typed refusals are never retried
 * (each is thrown non-retryable, and activities/final-refusals.ts keeps it so); everything else
 * is infrastructure and is.
 * Steps that touch a workspace run on the task queue of the worker holding it.
 */
import {
  ActivityFailure,
  ChildWorkflowFailure,
  TimeoutFailure,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import { hasPatch } from './patches';
import type { ArbiterActivities } from '../activities';
import { SandboxUidsExhaustedError } from '../domain/errors';
import type { GateCommand } from '../domain/task';

/**
 * Retries back off to at most this, so a step resumes within seconds of an outage's end (the
 * chaos suite holds every stall after a fault under a minute).
 */
const MAX_RETRY_INTERVAL = '10s';

/**
 * Attempts of a step whose every try touches PostgreSQL or the server: with the backoff above they
 * span about two and a half minutes, so an outage that short fails no task.
 */
const OUTAGE_ATTEMPTS = 18;

/**
 * Every remote step heartbeats from its start (activities/heartbeat.ts), so an attempt whose
 * worker died, or whose task or result the server lost when it went down, is retried this soon
 * after its last beat instead of at its start-to-close timeout (up to minutes for some steps).
 */
const HEARTBEAT_TIMEOUT = '10s';

/** `maximumAttempts` undefined means unlimited. */
function retry(maximumAttempts: number | undefined): ActivityOptions['retry'] {
  return {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: MAX_RETRY_INTERVAL,
    maximumAttempts,
  };
}

/** A remote step's options: its start-to-close, the shared heartbeat timeout, the retry policy. */
export function stepOptions(
  startToCloseTimeout: string,
  maximumAttempts: number | undefined,
  extra: Partial<ActivityOptions> = {},
): ActivityOptions {
  return {
    startToCloseTimeout,
    heartbeatTimeout: HEARTBEAT_TIMEOUT,
    retry: retry(maximumAttempts),
    ...extra,
  };
}

/** A local step's options (local activities do not heartbeat: a dead worker's workflow task times out instead). */
function localOptions(startToCloseTimeout: string, maximumAttempts: number | undefined): LocalActivityOptions {
  return { startToCloseTimeout, retry: retry(maximumAttempts) };
}

/** `base`, never retrying errors of `types` either (the workflow handles them itself). */
function alsoNonRetryable(base: ActivityOptions, ...types: string[]): ActivityOptions {
  const nonRetryableErrorTypes = [...(base.retry?.nonRetryableErrorTypes ?? []), ...types];
  return { ...base, retry: { ...base.retry, nonRetryableErrorTypes } };
}

/** Recording a transition waits out a database outage (unlimited attempts) rather than failing the task. */
export const { recordTransition } = proxyActivities<ArbiterActivities>(stepOptions('30s', undefined));
/**
 * Short steps that need no workspace, as local activities: run by the worker holding the
 * workflow task, with no server round trip each. Used since patch {@link LOCAL_STEPS_PATCH}; the
 * remote stubs stay for histories recorded before it. Same timeouts and retries as those.
 */
export const { recordTransition: recordTransitionLocally } = proxyLocalActivities<ArbiterActivities>(
  localOptions('30s', undefined),
);
export const { validateSpec: validateSpecLocally } = proxyLocalActivities<ArbiterActivities>(
  localOptions('30s', OUTAGE_ATTEMPTS),
);
export const { resolveRepo: resolveRepoLocally, recordRunId: recordRunIdLocally } =
  proxyLocalActivities<ArbiterActivities>(localOptions('30s', 10));

/** True when this run records transitions and validates as local activities (see `local-short-steps`). */
export function localSteps(): boolean {
  return hasPatch(LOCAL_STEPS_PATCH);
}

/** Patch id of the change that moved the short steps to local activities. */
export const LOCAL_STEPS_PATCH = 'local-short-steps';

/** Validation is pure compute (its result is stored); retried through a short outage. */
export const { validateSpec } = proxyActivities<ArbiterActivities>(stepOptions('30s', OUTAGE_ATTEMPTS));
/**
 * Routing retries without limit: while every capable agent is busy (AgentsBusyError) the task
 * waits in ROUTING, asking at the pace activities/busy-retry.ts sets (up to every 30 s).
 */
export const { routeTask } = proxyActivities<ArbiterActivities>(stepOptions('30s', undefined));
/** Best of N: ranking agents and reading candidates' stored evidence are reads; adopting copies one patch, idempotently. */
export const { proposeAgents, assessCandidates, adoptCandidate } = proxyActivities<ArbiterActivities>(
  stepOptions('1m', OUTAGE_ATTEMPTS),
);
/** Issuing is idempotent on the task, so retrying generously is safe. */
export const { issueVerdict } = proxyActivities<ArbiterActivities>(stepOptions('30s', 10));
/** Feedback is idempotent per task; retried generously so statistics are never lost. */
export const { recordTaskOutcome, recordAgentHealth } = proxyActivities<ArbiterActivities>(stepOptions('30s', 20));
/** A model turn: each attempt may wait on a slow model; failures to reach it are retried. */
export const { startConversation } = proxyActivities<ArbiterActivities>(stepOptions('1m', OUTAGE_ATTEMPTS));
export const { callModel } = proxyActivities<ArbiterActivities>(stepOptions('10m', OUTAGE_ATTEMPTS));
/** Authorising a waiver decision: typed refusals are final, database hiccups retried. */
export const { authorizeWaiverDecision, loadApproverKeys, storeWaiver } = proxyActivities<ArbiterActivities>(
  stepOptions('30s', 10),
);
/** Asking the server to cancel this run (the cancel signal's way to end Canceled); a few attempts, then the run ends as it would have. */
export const { cancelOwnRun } = proxyActivities<ArbiterActivities>(stepOptions('30s', 5));
/** Resolving the repository name is one query; typed refusals are final. */
export const { resolveRepo } = proxyActivities<ArbiterActivities>(stepOptions('30s', 10));
/** Reading the policy is one git call or two; retried through a worker dying or a short outage. */
export const { loadRepoPolicy } = proxyActivities<ArbiterActivities>(stepOptions('1m', OUTAGE_ATTEMPTS));
/**
 * Cloning a large repository can take minutes; a dead worker's attempt is retried within the
 * heartbeat timeout. Every sandbox uid taken is not retried here: the workflow waits for one
 * (workflows/sandbox-uid-wait.ts).
 */
export const { prepareWorkspace } = proxyActivities<ArbiterActivities>(
  alsoNonRetryable(stepOptions('15m', OUTAGE_ATTEMPTS), SandboxUidsExhaustedError.type),
);
/** Delivery rebuilds the same commit on every attempt, so retries are safe. */
export const { deliverChange } = proxyActivities<ArbiterActivities>(stepOptions('5m', 10));

/**
 * Workspace steps on the worker at `hostQueue`. If that worker never picks a step up within
 * `hostLossTimeout` (its host is gone), the step fails with a schedule-to-start timeout and the
 * workflow rebuilds the workspace elsewhere ({@link isHostLost}).
 */
export function onHost(hostQueue: string, hostLossTimeout: string) {
  const base = { taskQueue: hostQueue, scheduleToStartTimeout: hostLossTimeout };
  // A run may take as long as the agent's own limit allows (30 minutes when unknown), plus a reset and a launch.
  const executeAgent = (maxRunSeconds = 1800) =>
    proxyActivities<ArbiterActivities>(stepOptions(`${maxRunSeconds + 600}s`, OUTAGE_ATTEMPTS, base)).executeAgent;
  const { measureDiff, checkBudgetAndScope } = proxyActivities<ArbiterActivities>(
    stepOptions('5m', OUTAGE_ATTEMPTS, base),
  );
  const { releaseWorkspace } = proxyActivities<ArbiterActivities>(stepOptions('1m', 3, base));
  const { runToolCall } = proxyActivities<ArbiterActivities>(stepOptions('10m', OUTAGE_ATTEMPTS, base));
  const runGate = (gate: GateCommand) =>
    proxyActivities<ArbiterActivities>(
      stepOptions(`${gate.timeoutSeconds + 60}s`, OUTAGE_ATTEMPTS, { ...base, summary: `gate ${gate.name}` }),
    ).runGate;
  const installDependencies = (timeoutSeconds: number) =>
    proxyActivities<ArbiterActivities>(
      stepOptions(`${timeoutSeconds + 120}s`, OUTAGE_ATTEMPTS, { ...base, summary: 'setup' }),
    ).installDependencies;
  return {
    executeAgent,
    measureDiff,
    checkBudgetAndScope,
    releaseWorkspace,
    runGate,
    runToolCall,
    installDependencies,
  };
}

/** True when a workspace step (also one in a child workflow) failed because no worker on its host queue picked it up in time. */
export function isHostLost(err: unknown): boolean {
  if (err instanceof ChildWorkflowFailure) return isHostLost(err.cause);
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof TimeoutFailure &&
    err.cause.timeoutType === 'SCHEDULE_TO_START'
  );
}

/**
 * True when {@link isHostLost} and no attempt of the step ever ran: the agent steps beat as they
 * start (activities/heartbeat.ts), and the server hands the last beat on to the timeout of every
 * later attempt, so a timeout without one is of a step no worker of the host ever took up.
 */
export function isHostLostBeforeStart(err: unknown): boolean {
  if (err instanceof ChildWorkflowFailure) return isHostLostBeforeStart(err.cause);
  return (
    isHostLost(err) && (err as ActivityFailure & { cause: TimeoutFailure }).cause.lastHeartbeatDetails === undefined
  );
}
