/**
 * Arbiter's periodic work as Temporal Schedules, created when a worker starts: each host's
 * workspace retention sweep, waiver expiry, and provenance checkpoints of every tenant's chain
 * (workflows/maintenance.ts). Schedules rather than timers in the worker, so operators see every
 * run in the Web UI and with `temporal schedule list`, can pause one with `temporal schedule
 * toggle --pause --schedule-id ID --reason TEXT`, and a run survives its worker (overlap SKIP: a
 * slow run is never doubled).
 */
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleOptionsAction,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import type { Duration, Workflow } from '@temporalio/common';
import { HOST_ID_PATTERN } from '../domain/maintenance';
import { hostTaskQueue } from '../temporal-config';
import type {
  checkpointProvenanceWorkflow,
  expireWaiversWorkflow,
  sweepWorkspacesWorkflow,
} from '../workflows/maintenance';

/** The schedule of one host's retention sweep: per host, since each sweeps its own disk. */
export function workspaceRetentionScheduleId(hostId: string): string {
  return `arbiter-workspace-retention-${hostId}`;
}
/** The one waiver expiry schedule of the namespace. */
export const WAIVER_EXPIRY_SCHEDULE_ID = 'arbiter-waiver-expiry';
/** The one provenance checkpoint schedule of the namespace. */
export const PROVENANCE_CHECKPOINT_SCHEDULE_ID = 'arbiter-provenance-checkpoint';

/** How often each schedule runs, when it is created. */
interface ScheduleIntervals {
  workspaceRetention: Duration;
  waiverExpiry: Duration;
  provenanceCheckpoint: Duration;
}

/** Hourly sweeps and checkpoints; waivers expire within 5 minutes of their time. */
const SCHEDULE_INTERVALS: ScheduleIntervals = {
  workspaceRetention: '1h',
  waiverExpiry: '5m',
  provenanceCheckpoint: '1h',
};

/** What {@link ensureArbiterSchedules} needs. */
export interface EnsureSchedulesOptions {
  /** A client of the worker's namespace: `new Client({ connection, namespace })` takes the worker's NativeConnection. */
  client: Client;
  /** The shared task queue the maintenance workflows run on. */
  taskQueue: string;
  /** This worker's host queue, `hostTaskQueue(taskQueue, hostId)`: its sweep's steps go there. */
  hostQueue: string;
  /** This worker's host id (`<ARBITER_HOME>/worker-id`): names its retention schedule. */
  hostId: string;
}

/** Which schedules a call created and which it found already there (and left as they were). */
export interface EnsuredSchedules {
  created: string[];
  existing: string[];
}

/** The schedule `scheduleId`: `workflowType` on `taskQueue` every `every`, never two runs at once. */
function scheduleOf<W extends Workflow>(
  scheduleId: string,
  every: Duration,
  action: Omit<ScheduleOptionsStartWorkflowAction<W>, 'type' | 'workflowId'>,
  note: string,
): ScheduleOptions {
  return {
    scheduleId,
    spec: { intervals: [{ every }] },
    // Typed per workflow at the call (its args); the SDK's action type is over any workflow.
    action: { type: 'startWorkflow', workflowId: scheduleId, ...action } as ScheduleOptionsAction,
    // SKIP: a run still going when the next is due makes that one skip. A server back from an
    // outage makes up only runs missed in its last 10 minutes, not every interval it missed.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10m' },
    state: { note },
  };
}

/**
 * Creates Arbiter's schedules in the client's namespace unless they exist: this host's
 * `arbiter-workspace-retention-<hostId>` (hourly), and the namespace's `arbiter-waiver-expiry`
 * (every 5 minutes) and `arbiter-provenance-checkpoint` (hourly). Every worker calls it at
 * start, so it is idempotent: a schedule that exists (ScheduleAlreadyRunning) is left exactly as
 * it is, so one an operator paused stays paused across restarts, and one created by another
 * worker keeps that worker's task queue and interval. To change either, delete the schedule
 * (`temporal schedule delete --schedule-id ID`) and restart a worker. A host retired for good
 * leaves its retention schedule behind (its runs fail, naming the host): delete it the same way.
 * Any other error (the server refusing schedules) is thrown.
 */
export async function ensureArbiterSchedules(options: EnsureSchedulesOptions): Promise<EnsuredSchedules> {
  const { client, taskQueue, hostQueue, hostId } = options;
  if (!HOST_ID_PATTERN.test(hostId) || hostTaskQueue(taskQueue, hostId) !== hostQueue)
    throw new Error(`host queue ${hostQueue} is not the queue of host ${hostId} on task queue ${taskQueue}`);
  const every = SCHEDULE_INTERVALS;
  const note = 'created by an Arbiter worker at start; pausing it is kept across restarts';
  const schedules = [
    scheduleOf<typeof sweepWorkspacesWorkflow>(
      workspaceRetentionScheduleId(hostId),
      every.workspaceRetention,
      {
        workflowType: 'sweepWorkspacesWorkflow',
        args: [{ hostQueue }],
        taskQueue,
        // Its worst case: 10 minutes waiting for the host, then three 30-minute attempts.
        workflowExecutionTimeout: '2h',
        staticSummary: `Arbiter: remove expired retained workspaces on host ${hostId}`,
      },
      note,
    ),
    scheduleOf<typeof expireWaiversWorkflow>(
      WAIVER_EXPIRY_SCHEDULE_ID,
      every.waiverExpiry,
      {
        workflowType: 'expireWaiversWorkflow',
        args: [{}],
        taskQueue,
        workflowExecutionTimeout: '15m',
        staticSummary: 'Arbiter: mark waivers past their expiry expired',
      },
      note,
    ),
    scheduleOf<typeof checkpointProvenanceWorkflow>(
      PROVENANCE_CHECKPOINT_SCHEDULE_ID,
      every.provenanceCheckpoint,
      {
        workflowType: 'checkpointProvenanceWorkflow',
        args: [{}],
        taskQueue,
        workflowExecutionTimeout: '1h',
        staticSummary: "Arbiter: sign a checkpoint of every tenant's provenance chain",
      },
      note,
    ),
  ];
  const result: EnsuredSchedules = { created: [], existing: [] };
  for (const schedule of schedules) {
    try {
      await client.schedule.create(schedule);
      result.created.push(schedule.scheduleId);
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      result.existing.push(schedule.scheduleId);
    }
  }
  return result;
}
