/**
 * The periodic maintenance workflows' inputs and results (workflows/maintenance.ts). Their
 * schedules start them (workers/schedules.ts), but an insider can start one by hand with any
 * input, so an input carries nothing that matters to security: no clock, tenant, path,
 * retention or key. Each is strict, so a field such as `now` or `tenantId` is refused, not
 * silently ignored.
 */
import { z } from 'zod';
import { hostTaskQueue } from '../temporal-config';

/** Hours ahead within which an active waiver counts as expiring soon (the gauge's window). */
export const WAIVER_EXPIRING_SOON_HOURS = 24;

/** Longest host queue name a sweep accepts (a task queue name, `/host/`, a host id). */
export const MAX_HOST_QUEUE_CHARACTERS = 300;

/** A host id as it may appear in a host queue: what `<ARBITER_HOME>/worker-id` holds. */
export const HOST_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Why `hostQueue` is not a host queue of the workers on `taskQueue` (`<taskQueue>/host/<host id>`),
 * or undefined when it is. Anything else (the shared queue, another deployment's queue, a path)
 * is refused before any step is scheduled.
 */
export function hostQueueProblem(hostQueue: string, taskQueue: string): string | undefined {
  const prefix = hostTaskQueue(taskQueue, '');
  const hostId = hostQueue.startsWith(prefix) ? hostQueue.slice(prefix.length) : undefined;
  if (hostId === undefined || !HOST_ID_PATTERN.test(hostId) || hostTaskQueue(taskQueue, hostId) !== hostQueue)
    return `hostQueue must be a host queue of task queue ${taskQueue} (${prefix}<host id>: letters, digits, _ and -)`;
  return undefined;
}

/** Input of `sweepWorkspacesWorkflow`: only which host's queue sweeps; the workflow checks it is a host queue of its own. */
export const SweepWorkspacesWorkflowInput = z
  .object({ hostQueue: z.string().min(1).max(MAX_HOST_QUEUE_CHARACTERS) })
  .strict();
/** Input of `sweepWorkspacesWorkflow`. */
export type SweepWorkspacesWorkflowInput = z.input<typeof SweepWorkspacesWorkflowInput>;

/** Input of `expireWaiversWorkflow`: nothing (the clock and the tenants are the activity's own). */
export const ExpireWaiversWorkflowInput = z.object({}).strict().default({});
/** Input of `expireWaiversWorkflow`. */
export type ExpireWaiversWorkflowInput = z.input<typeof ExpireWaiversWorkflowInput>;

/** Input of `checkpointProvenanceWorkflow`: nothing (every tenant, signed with the worker's own key). */
export const CheckpointProvenanceWorkflowInput = z.object({}).strict().default({});
/** Input of `checkpointProvenanceWorkflow`. */
export type CheckpointProvenanceWorkflowInput = z.input<typeof CheckpointProvenanceWorkflowInput>;

/** What one sweep removed. */
export interface WorkspaceSweepResult {
  hostQueue: string;
  /** Retained workspaces whose retention had passed, and orphans of ended tasks, now deleted. */
  removed: number;
  /** Workspaces due for removal that could not be removed (each logged with why); the next sweep tries again. */
  failed: number;
}

/** What one waiver expiry pass did. */
export interface WaiverExpiryResult {
  /** Active waivers past their expiry, now marked `expired`. */
  expired: number;
  /** Active waivers that expire within {@link WAIVER_EXPIRING_SOON_HOURS} hours. */
  expiringSoon: number;
}

/** Most refused tenants a checkpoint pass names in its result (the log names every one). */
export const MAX_REFUSED_TENANTS_LISTED = 50;

/** What one provenance checkpoint pass did. */
export interface ProvenanceCheckpointResult {
  /** Tenants with a chain or a stored checkpoint. */
  tenants: number;
  /** Tenants whose head is now covered by a checkpoint of the worker's key (new or already there). */
  checkpointed: number;
  /** Tenants whose chain does not extend their last checkpoint intact: logged as errors, never signed. */
  refused: string[];
  /** How many tenants were refused (`refused` lists at most {@link MAX_REFUSED_TENANTS_LISTED}). */
  refusedCount: number;
}
