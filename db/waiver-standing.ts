/**
 * Whether the waivers a verdict rests on still stand when it is signed and when its change is
 * delivered. Storing a waiver passes the budget rows of its tree once and for good; a waiver
 * revoked (`arbiter waivers revoke`), past its expiry, or whose approvals lapsed meanwhile (an
 * approver's key revoked) was still signed into a WAIVED verdict and delivered (found in review):
 * the window between granting and delivering is a busy worker's backlog, or as long as an insider's
 * own workflow code likes.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { lapseProblem } from '../domain/approval';
import type { Db } from './client';
import { waivers } from './schema';
import { approverKeys, type WaiverRow } from './waivers';

/** The tenant's stored waivers among `ids` (a spec may name waivers kept elsewhere: those have no row). */
export async function storedWaivers(db: Db, tenantId: string, ids: readonly string[]): Promise<WaiverRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(waivers)
    .where(and(eq(waivers.tenantId, tenantId), inArray(waivers.id, [...new Set(ids)])));
}

/** Why each of `rows` no longer stands at `now`; empty when all do. */
export async function waiversNotStanding(
  db: Db,
  tenantId: string,
  rows: readonly WaiverRow[],
  now = Date.now(),
): Promise<string[]> {
  if (rows.length === 0) return [];
  const keyring = await approverKeys(db, tenantId);
  return rows.flatMap((w) => {
    if (w.status !== 'active') return [`waiver ${w.id} is ${w.status}`];
    if (w.expiresAt.getTime() <= now) return [`waiver ${w.id} expired at ${w.expiresAt.toISOString()}`];
    return w.approvals.flatMap((a) => {
      const lapsed = lapseProblem(a, keyring, w.riskTier ?? undefined, now);
      return lapsed ? [`waiver ${w.id}: the approval by ${a.claim.approver} no longer counts (${lapsed})`] : [];
    });
  });
}
