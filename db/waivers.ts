/**
 * Waivers, their approvers and every decision, as the activities and the CLI read and write
 * them: one place for the queries, like db/agents.ts for the registry.
 */
import { and, asc, count, eq, gte, inArray, isNull, or, sql } from 'drizzle-orm';
import type { RegisteredKey } from '../domain/approval';
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

/** The waivers one run of a task used, by id (the verdict lists them with their signed approvals). */
export function waiversUsedBy(db: DbExecutor, tenantId: string, taskId: string, runId: string): Promise<WaiverRow[]> {
  return db
    .select()
    .from(waivers)
    .where(and(eq(waivers.tenantId, tenantId), eq(waivers.usedByTask, taskId), eq(waivers.usedByRun, runId)))
    .orderBy(asc(waivers.id));
}

/**
 * The waivers approved for `treeId` in a task, whichever run asked: storing one passes the budget
 * rows of that tree for every run, so a verdict on the tree cites it, even one a run issues after
 * taking the task over from the run that asked.
 */
export function waiversForTree(db: DbExecutor, tenantId: string, taskId: string, treeId: string): Promise<WaiverRow[]> {
  const approvedFor = JSON.stringify([{ claim: { treeId } }]);
  return db
    .select()
    .from(waivers)
    .where(
      and(
        eq(waivers.tenantId, tenantId),
        eq(waivers.usedByTask, taskId),
        sql`${waivers.approvals} @> ${approvedFor}::jsonb`,
      ),
    )
    .orderBy(asc(waivers.id));
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

/**
 * Registers (or re-activates) an approver for the given tiers with one public key; registering
 * again replaces the key, so a rotated or lost key stops counting at once.
 */
export async function upsertApprover(
  db: DbExecutor,
  row: { tenantId: string; name: string; tiers: number[]; keyId: string },
): Promise<void> {
  const { tiers, keyId } = row;
  await db
    .insert(approvers)
    .values(row)
    .onConflictDoUpdate({ target: [approvers.tenantId, approvers.name], set: { tiers, keyId, active: true } });
}

/** Deactivates an approver: their key no longer counts; false when the tenant has none by that name. */
export async function revokeApprover(db: DbExecutor, tenantId: string, name: string): Promise<boolean> {
  const updated = await db
    .update(approvers)
    .set({ active: false })
    .where(and(eq(approvers.tenantId, tenantId), eq(approvers.name, name)))
    .returning();
  return updated.length > 0;
}

/** The keys that may decide the tenant's waivers now: active approvers with a registered key. */
export async function approverKeys(db: DbExecutor, tenantId: string): Promise<RegisteredKey[]> {
  const rows = await listApprovers(db, tenantId);
  return rows.flatMap((r) => (r.keyId ? [{ approver: r.name, keyId: r.keyId, tiers: r.tiers }] : []));
}

/**
 * Marks the waiver used by one task run; true when it is now this run's (first use, or a retry
 * of the same run), false when another run used it first.
 */
export async function claimWaiverUse(
  db: DbExecutor,
  tenantId: string,
  id: string,
  use: { taskId: string; runId: string },
): Promise<boolean> {
  const claimed = await db
    .update(waivers)
    .set({ usedByTask: use.taskId, usedByRun: use.runId })
    .where(
      and(
        eq(waivers.tenantId, tenantId),
        eq(waivers.id, id),
        or(isNull(waivers.usedByRun), and(eq(waivers.usedByTask, use.taskId), eq(waivers.usedByRun, use.runId))),
      ),
    )
    .returning({ id: waivers.id });
  return claimed.length > 0;
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

/** Records one decision (the audit trail and the rate limit's basis), once per task and signature. */
export async function recordDecision(db: DbExecutor, row: typeof waiverDecisions.$inferInsert): Promise<void> {
  await db.insert(waiverDecisions).values(row).onConflictDoNothing();
}

/**
 * Which of `signatures` the tenant's decision record holds: each was checked against the
 * approver's registered key when it was made (authorizeWaiverDecision records only those).
 */
export async function recordedSignatures(db: DbExecutor, tenantId: string, signatures: string[]): Promise<Set<string>> {
  if (signatures.length === 0) return new Set();
  const rows = await db
    .select({ signature: sql<string>`${waiverDecisions.detail}->>'signature'` })
    .from(waiverDecisions)
    .where(
      and(
        eq(waiverDecisions.tenantId, tenantId),
        inArray(sql<string>`${waiverDecisions.detail}->>'signature'`, signatures),
      ),
    );
  return new Set(rows.map((r) => r.signature));
}
