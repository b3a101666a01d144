/**
 * Whether a run delivered its change: the `change.delivered` event only `deliverChange` appends,
 * after it re-judged the verdict (the policy at the trusted ref's tip, the waivers still standing).
 * A signed PASS is not yet a delivered one: those checks may refuse it.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './client';
import { provenanceEvents } from './schema';

/** What a delivery event must say besides its run: the branch and commit made, the verdict delivered. */
export interface DeliveryClaim {
  branch?: string;
  commit?: string;
  verdictDigest?: string;
}

/** True when the run `runId` of the task `ref` recorded a delivery saying all of `claim`. */
export async function deliveryRecorded(
  db: Db,
  ref: { tenantId: string; taskId: string },
  runId: string,
  claim: DeliveryClaim = {},
): Promise<boolean> {
  const said = JSON.stringify({ ...claim, runId });
  const [row] = await db
    .select({ id: provenanceEvents.id })
    .from(provenanceEvents)
    .where(
      and(
        eq(provenanceEvents.tenantId, ref.tenantId),
        eq(provenanceEvents.subject, `${ref.tenantId}/${ref.taskId}`),
        eq(provenanceEvents.kind, 'change.delivered'),
        sql`${provenanceEvents.payload} @> ${said}::jsonb`,
      ),
    )
    .limit(1);
  return row !== undefined;
}
