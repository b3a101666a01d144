/**
 * A task's delivery: claimed by one run before it writes to any repository, and recorded by the
 * `change.delivered` event only `deliverChange` appends, after it re-judged the verdict (the policy
 * at the trusted ref's tip, the waivers still standing). A signed PASS is not yet a delivered one:
 * those checks may refuse it.
 */
import { and, eq, gte, isNull, notInArray, or, sql } from 'drizzle-orm';
import { TERMINAL_STATES } from '../domain/lifecycle';
import type { Db } from './client';
import { provenanceEvents, tasks } from './schema';
import { runEventKey } from './provenance';

/**
 * Claims the delivery of task `ref` for run `runId`: true when the task's row names this run, the
 * task has not ended, and no other run claimed it (this run's retry claims again). Once claimed,
 * no other run delivers the task or takes it over (db/task-transitions.ts), so a run terminated
 * mid-delivery cannot be followed by one delivering the same task id elsewhere (found in review).
 */
export async function claimDelivery(
  db: Db,
  ref: { tenantId: string; taskId: string },
  runId: string,
): Promise<boolean> {
  const claimed = await db
    .update(tasks)
    .set({ deliveringRunId: runId })
    .where(
      and(
        eq(tasks.tenantId, ref.tenantId),
        eq(tasks.id, ref.taskId),
        eq(tasks.runId, runId),
        notInArray(tasks.state, [...TERMINAL_STATES]),
        or(isNull(tasks.deliveringRunId), eq(tasks.deliveringRunId, runId)),
      ),
    )
    .returning({ id: tasks.id });
  return claimed.length === 1;
}

/** What a delivery event must say besides its run: the branch and commit made, the verdict delivered. */
export interface DeliveryClaim {
  branch?: string;
  commit?: string;
  verdictDigest?: string;
}

/**
 * True when the run `runId` of the task `ref` recorded a delivery saying all of `claim`. With
 * `byKey`, only under the key this code records it by, found by the tenant's chain index: what a
 * transition to COMPLETED asks on every task, where a scan of the chain would grow with its history.
 */
export async function deliveryRecorded(
  db: Db,
  ref: { tenantId: string; taskId: string },
  runId: string,
  claim: DeliveryClaim = {},
  options: { byKey?: boolean } = {},
): Promise<boolean> {
  const said = JSON.stringify({ ...claim, runId });
  const [row] = await db
    .select({ id: provenanceEvents.id })
    .from(provenanceEvents)
    .where(
      and(
        eq(provenanceEvents.tenantId, ref.tenantId),
        options.byKey
          ? eq(provenanceEvents.eventKey, runEventKey(ref.taskId, runId, 'delivered'))
          : eq(provenanceEvents.subject, `${ref.tenantId}/${ref.taskId}`),
        eq(provenanceEvents.kind, 'change.delivered'),
        gte(provenanceEvents.seq, 0),
        sql`${provenanceEvents.payload} @> ${said}::jsonb`,
      ),
    )
    .limit(1);
  return row !== undefined;
}
