/**
 * Waivers, their approvers and every decision, as the activities and the CLI read and write
 * them: one place for the queries, like db/agents.ts for the registry.
 */
import { and, asc, count, eq, gt, gte, inArray, sql } from 'drizzle-orm';
import type { DbExecutor } from './client';
import { approvers, waiverDecisions, waivers } from './schema';

/** A stored waiver row. */
export type WaiverRow = typeof waivers.$inferSelect;
/** A registered approver row. */
export type ApproverRow = typeof approvers.$inferSelect;

/** A tenant's waivers by id, with an active waiver past its expiry shown as `expired`. */
export async function listWaivers(db: DbExecutor, tenantId: string, now = new Date()): Promise<WaiverRow[]> {
  const rows = await db.select().from(waivers).where(eq(waivers.tenantId, tenantId)).orderBy(asc(waivers.id));
  return rows.map((r) => ({ ...r, status: r.status === 'active' && r.expiresAt <= now ? 'expired' : r.status }));
}

/** One waiver, or undefined. */
export async function getWaiver(db: DbExecutor, tenantId: string, id: string): Promise<WaiverRow | undefined> {
  const [row] = await db
    .select()
    .from(waivers)
    .where(and(eq(waivers.tenantId, tenantId), eq(waivers.id, id)));
  return row;
}

/** The named waivers that apply now: active and unexpired. */
export function activeWaivers(db: DbExecutor, tenantId: string, ids: string[]): Promise<WaiverRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .select()
    .from(waivers)
    .where(
      and(
        eq(waivers.tenantId, tenantId),
        inArray(waivers.id, ids),
        eq(waivers.status, 'active'),
        gt(waivers.expiresAt, new Date()),
      ),
    );
}

/** Stores a new waiver; false when its id was already taken (the caller decides whether that is a retry). */
export async function insertWaiver(db: DbExecutor, row: typeof waivers.$inferInsert): Promise<boolean> {
  const stored = await db.insert(waivers).values(row).onConflictDoNothing().returning({ id: waivers.id });
  return stored.length > 0;
}

/** Revokes a waiver; false when the tenant has none by that id. */
export async function revokeWaiver(db: DbExecutor, tenantId: string, id: string): Promise<boolean> {
  const updated = await db
    .update(waivers)
    .set({ status: 'revoked' })
    .where(and(eq(waivers.tenantId, tenantId), eq(waivers.id, id)))
    .returning();
  return updated.length > 0;
}

/** One approver, active or not. */
export async function getApprover(db: DbExecutor, tenantId: string, name: string): Promise<ApproverRow | undefined> {
  const [row] = await db
    .select()
    .from(approvers)
    .where(and(eq(approvers.tenantId, tenantId), eq(approvers.name, name)));
  return row;
}

/** Registers (or re-activates) an approver for the given tiers. */
export async function upsertApprover(db: DbExecutor, tenantId: string, name: string, tiers: number[]): Promise<void> {
  await db
    .insert(approvers)
    .values({ tenantId, name, tiers })
    .onConflictDoUpdate({ target: [approvers.tenantId, approvers.name], set: { tiers, active: true } });
}

/** A tenant's active approvers by name. */
export function listApprovers(db: DbExecutor, tenantId: string): Promise<ApproverRow[]> {
  return db
    .select()
    .from(approvers)
    .where(and(eq(approvers.tenantId, tenantId), eq(approvers.active, true)))
    .orderBy(asc(approvers.name));
}

/** How many decisions the approver made in the last hour (the rate limit's count). */
export async function decisionsInLastHour(db: DbExecutor, tenantId: string, approver: string): Promise<number> {
  const [recent] = await db
    .select({ n: count() })
    .from(waiverDecisions)
    .where(
      and(
        eq(waiverDecisions.tenantId, tenantId),
        eq(waiverDecisions.approver, approver),
        gte(waiverDecisions.createdAt, sql`now() - interval '1 hour'`),
      ),
    );
  return recent.n;
}

/** Records one decision (the audit trail and the rate limit's basis). */
export async function recordDecision(db: DbExecutor, row: typeof waiverDecisions.$inferInsert): Promise<void> {
  await db.insert(waiverDecisions).values(row);
}
