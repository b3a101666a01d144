/**
 * The periodic maintenance steps the schedules run (workers/schedules.ts, workflows/maintenance.ts):
 * the host's workspace retention sweep, waiver expiry, and a checkpoint of every tenant's
 * provenance chain. None takes input: what matters to security (whose disk, which clock, which
 * tenants, which key signs) comes from the worker's own dependencies, so a hand-started run can
 * only make a step happen early, never change what it does.
 */
import { ApplicationFailure } from '@temporalio/common';
import { activityInfo, log, metricMeter } from '@temporalio/activity';
import { and, count, eq, gt, lte } from 'drizzle-orm';
import type { Db } from '../db/client';
import { provenanceTenants } from '../db/provenance';
import { quietTasks } from '../db/tasks';
import { checkpointTenants, takeCheckpoint } from '../db/provenance-checkpoints';
import { waivers } from '../db/schema';
import {
  MAX_REFUSED_TENANTS_LISTED,
  WAIVER_EXPIRING_SOON_HOURS,
  type ProvenanceCheckpointResult,
  type WaiverExpiryResult,
  type WorkspaceSweepResult,
} from '../domain/maintenance';
import { ORPHAN_GRACE_MS, sweepWorkspaces, type AbandonedTasks } from '../host/workspace-retention';
import { taskWorkflowId } from '../temporal-config';
import type { ActivityDeps } from './deps';

/** The gauge of active waivers expiring soon, as Prometheus shows it (with the activity's tags). */
export const WAIVERS_EXPIRING_SOON_GAUGE = 'arbiter_waivers_expiring_soon';
/**
 * When this worker last counted them. Every worker keeps exporting the count it last set, so
 * alerts read the count of the worker whose check is the newest (ops/prometheus/alerts.yml).
 */
export const WAIVER_EXPIRY_CHECKED_GAUGE = 'arbiter_waiver_expiry_checked_timestamp_seconds';
const PROVENANCE_BROKEN_GAUGE = 'arbiter_provenance_chains_broken';
const PROVENANCE_CHECKED_GAUGE = 'arbiter_provenance_checkpoint_timestamp_seconds';

/** Error type of a sweep that reached a worker on another queue than that worker's host queue. */
export const NOT_THIS_HOST_ERROR = 'NotThisHostError';

/**
 * Marks every active waiver past its expiry `expired` (the status `listWaivers` has shown for
 * them all along; no spec may use it either way), and counts those expiring within the window.
 */
async function expireWaiversNow(
  db: Db,
  now: Date,
): Promise<{ expired: Array<{ tenantId: string; id: string }>; expiringSoon: number }> {
  const expired = await db
    .update(waivers)
    .set({ status: 'expired' })
    .where(and(eq(waivers.status, 'active'), lte(waivers.expiresAt, now)))
    .returning({ tenantId: waivers.tenantId, id: waivers.id });
  const soon = new Date(now.getTime() + WAIVER_EXPIRING_SOON_HOURS * 3_600_000);
  const [{ n }] = await db
    .select({ n: count() })
    .from(waivers)
    .where(and(eq(waivers.status, 'active'), gt(waivers.expiresAt, now), lte(waivers.expiresAt, soon)));
  return { expired, expiringSoon: n };
}

/** Every tenant with a chain, or with a stored checkpoint whose chain is gone (that must be reported, not skipped). */
async function checkpointableTenants(db: Db): Promise<string[]> {
  const tenants = new Set([...(await provenanceTenants(db)), ...(await checkpointTenants(db))]);
  return [...tenants].sort();
}

/**
 * Chains the last checkpoint run refused, and when it ran: a broken chain is tampering or loss,
 * and a run that stops happening (a paused or deleted schedule) must show too.
 */
function reportCheckpointRun(broken: number): void {
  metricMeter
    .createGauge(PROVENANCE_BROKEN_GAUGE, 'int', '', 'provenance chains the last checkpoint run refused to sign')
    .set(broken);
  metricMeter
    .createGauge(PROVENANCE_CHECKED_GAUGE, 'int', '', 'when this worker last ran the checkpoints (Unix s)')
    .set(Math.floor(Date.now() / 1000));
}

/**
 * Tasks whose record (if any) has not changed for the grace and whose workflow has no open run:
 * only an open run works in a workspace (a reset run of an ended task too, in one its record
 * knows nothing of). A record left open by a run that ended outside workflow code, or none at all
 * (a task id an insider's own workflow code made up to hold a sandbox uid), keeps nothing.
 * Without a way to ask Temporal (`runIsOpen` absent), none.
 */
function abandonedTasks({ db, runIsOpen }: Pick<ActivityDeps, 'db' | 'runIsOpen'>): AbandonedTasks {
  return async (wanted, graceMs) => {
    if (!runIsOpen) return new Set();
    const quiet = await quietTasks(db, wanted, graceMs);
    const closed = new Set<string>();
    for (const { tenantId, taskId } of wanted.filter((t) => quiet.has(`${t.tenantId}/${t.taskId}`)))
      if (!(await runIsOpen({ tenantId, workflowId: taskWorkflowId({ tenantId, taskId }), runId: '' })))
        closed.add(`${tenantId}/${taskId}`);
    return closed;
  };
}

/** The maintenance activities, for `createActivities`. */
export function createMaintenanceActivities(
  deps: Pick<ActivityDeps, 'db' | 'home' | 'hostQueue' | 'signer' | 'retentionHours' | 'runIsOpen'>,
) {
  return {
    /**
     * Removes this host's retained workspaces whose retention has passed (the marker each holds
     * says until when; the worker's retention hours set it at release), and those of ended tasks
     * that nothing will release (host/workspace-retention.ts). Runs only when it reached
     * this worker through its own host queue: on any other queue (the shared one, say) it would
     * sweep whichever host picked it up, so it refuses.
     */
    async sweepRetainedWorkspaces(): Promise<WorkspaceSweepResult> {
      const { taskQueue } = activityInfo();
      if (taskQueue !== deps.hostQueue)
        throw ApplicationFailure.nonRetryable(
          `a workspace sweep runs only on a worker's own host queue; this worker's is ${deps.hostQueue}, not ${taskQueue}`,
          NOT_THIS_HOST_ERROR,
        );
      const graceMs = Math.max(ORPHAN_GRACE_MS, deps.retentionHours * 3_600_000);
      const { removed, failed } = await sweepWorkspaces(deps.home, new Date(), {
        graceMs,
        abandonedTasks: abandonedTasks(deps),
      });
      if (removed.length) log.info('expired or orphaned workspaces removed', { count: removed.length });
      for (const { root, error } of failed) log.error('workspace could not be swept', { root, error });
      return { hostQueue: deps.hostQueue, removed: removed.length, failed: failed.length };
    },

    /**
     * Marks active waivers past their expiry `expired`, by the worker's clock, across every
     * tenant, and sets the `arbiter_waivers_expiring_soon` gauge with the time it was counted.
     */
    async expireWaivers(): Promise<WaiverExpiryResult> {
      const { expired, expiringSoon } = await expireWaiversNow(deps.db, new Date());
      for (const w of expired) log.info('waiver expired', { tenantId: w.tenantId, waiverId: w.id });
      metricMeter
        .createGauge(
          WAIVERS_EXPIRING_SOON_GAUGE,
          'int',
          '',
          `active waivers expiring within ${WAIVER_EXPIRING_SOON_HOURS} hours`,
        )
        .set(expiringSoon);
      metricMeter
        .createGauge(WAIVER_EXPIRY_CHECKED_GAUGE, 'int', '', 'when this worker last counted expiring waivers (Unix s)')
        .set(Math.floor(Date.now() / 1000));
      return { expired: expired.length, expiringSoon };
    },

    /**
     * Signs the head of every tenant's chain with the worker's key (what a verdict does for its
     * own tenant). A chain that no longer extends the key's previous checkpoint is not signed,
     * only logged as an error: a new signature would paper over the break that `arbiter
     * provenance verify` names against the earlier checkpoint.
     */
    async checkpointProvenance(): Promise<ProvenanceCheckpointResult> {
      const tenants = await checkpointableTenants(deps.db);
      const refused: string[] = [];
      for (const tenantId of tenants) {
        const outcome = await takeCheckpoint(deps.db, deps.signer, tenantId);
        if (outcome.ok) continue;
        refused.push(tenantId);
        log.error('provenance checkpoint refused: the chain is broken', { tenantId, problems: outcome.problems });
      }
      reportCheckpointRun(refused.length);
      return {
        tenants: tenants.length,
        checkpointed: tenants.length - refused.length,
        refused: refused.slice(0, MAX_REFUSED_TENANTS_LISTED),
        refusedCount: refused.length,
      };
    },
  };
}
