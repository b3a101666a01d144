/**
 * Periodic maintenance, each a small workflow that Temporal Schedules start (workers/schedules.ts),
 * so operators see every run and can pause one with `temporal schedule toggle --pause`:
 * a host's workspace retention sweep, waiver expiry, and a checkpoint of every tenant's
 * provenance chain. An insider can start these by hand with any input; the inputs are strict and
 * carry nothing security-relevant (activities/maintenance.ts takes the clock, the tenants, the
 * paths and the signing key from the worker), so the most such a run does is the same work early.
 */
import { ApplicationFailure, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ArbiterActivities } from '../activities';
import {
  CheckpointProvenanceWorkflowInput,
  ExpireWaiversWorkflowInput,
  MAX_HOST_QUEUE_CHARACTERS,
  SweepWorkspacesWorkflowInput,
  hostQueueProblem,
  type ProvenanceCheckpointResult,
  type WaiverExpiryResult,
  type WorkspaceSweepResult,
} from '../domain/maintenance';
import { isHostLost, stepOptions as options } from './activity-proxies';
import { parseWorkflowInput } from './workflow-input';

/** How long a sweep waits for its host's worker to take it before the run fails (the host is gone). */
const SWEEP_HOST_TIMEOUT = '10m';

/** Expiry is two statements; retried through a short database outage (the next run is 5 minutes away anyway). */
const { expireWaivers } = proxyActivities<ArbiterActivities>(options('1m', 10));
/** One checkpoint per tenant; a retry re-signs nothing already stored (once per seq and key). */
const { checkpointProvenance } = proxyActivities<ArbiterActivities>(options('30m', 5));

/**
 * Runs the retention sweep on the worker whose host queue is `hostQueue`: its own retained
 * workspaces whose time has passed are deleted. `hostQueue` must be a host queue of the task
 * queue this run is on; the step itself refuses on any queue but its worker's own host queue.
 */
export async function sweepWorkspacesWorkflow(raw: SweepWorkspacesWorkflowInput): Promise<WorkspaceSweepResult> {
  const { hostQueue } = parseWorkflowInput(
    SweepWorkspacesWorkflowInput,
    raw,
    'sweep input',
    MAX_HOST_QUEUE_CHARACTERS + 20,
  );
  const problem = hostQueueProblem(hostQueue, workflowInfo().taskQueue);
  if (problem)
    throw ApplicationFailure.nonRetryable(`invalid sweep input: ${problem}`, 'InvalidTaskInputError', [problem]);
  const { sweepRetainedWorkspaces } = proxyActivities<ArbiterActivities>(
    options('30m', 3, { taskQueue: hostQueue, scheduleToStartTimeout: SWEEP_HOST_TIMEOUT }),
  );
  try {
    const result = await sweepRetainedWorkspaces();
    log.info('workspace sweep done', { ...result });
    return result;
  } catch (err) {
    if (!isHostLost(err)) throw err;
    throw ApplicationFailure.nonRetryable(
      `no worker took the sweep from ${hostQueue} within ${SWEEP_HOST_TIMEOUT}: if that host is gone for good, delete its schedule (temporal schedule delete)`,
      'HostLostError',
    );
  }
}

/** Marks every active waiver past its expiry `expired` and reports how many expire within 24 hours. */
export async function expireWaiversWorkflow(raw: ExpireWaiversWorkflowInput = {}): Promise<WaiverExpiryResult> {
  parseWorkflowInput(ExpireWaiversWorkflowInput, raw, 'waiver expiry input', 200);
  const result = await expireWaivers();
  log.info('waiver expiry done', { ...result });
  return result;
}

/** Signs the head of every tenant's provenance chain; a broken chain is logged and named, never signed. */
export async function checkpointProvenanceWorkflow(
  raw: CheckpointProvenanceWorkflowInput = {},
): Promise<ProvenanceCheckpointResult> {
  parseWorkflowInput(CheckpointProvenanceWorkflowInput, raw, 'provenance checkpoint input', 200);
  const result = await checkpointProvenance();
  if (result.refusedCount) log.error('provenance checkpoints refused: broken chains', { refused: result.refused });
  return result;
}
