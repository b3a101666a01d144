/** The gateway's record: model calls per run, what a run has spent, and the verdict's summary of both. */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { GatewaySummary } from '../domain/model-usage';
import type { Db } from './client';
import { modelCalls, sandboxEvents } from './schema';

/** One forwarded call, as recorded. */
export type ModelCallRow = typeof modelCalls.$inferInsert;

/** Appends one call. */
export async function recordModelCall(db: Db, row: ModelCallRow): Promise<void> {
  await db.insert(modelCalls).values(row);
}

/** Calls of one run, oldest first. */
export async function modelCallsOf(db: Db, tenantId: string, taskId: string, runId: string) {
  return db
    .select()
    .from(modelCalls)
    .where(and(eq(modelCalls.tenantId, tenantId), eq(modelCalls.taskId, taskId), eq(modelCalls.runId, runId)))
    .orderBy(asc(modelCalls.id));
}

/** Tokens and cost an agent already spent in a run, for the budgets of a retried attempt. */
export async function spentByRun(
  db: Db,
  who: { tenantId: string; taskId: string; runId: string; agentId: string; purpose: string },
): Promise<{ tokens: number; costUsd: number }> {
  const [row] = await db
    .select({
      tokens: sql<number>`coalesce(sum(${modelCalls.inputTokens} + ${modelCalls.outputTokens}), 0)::bigint`,
      cost: sql<number>`coalesce(sum(${modelCalls.costUsd}), 0)`,
    })
    .from(modelCalls)
    .where(
      and(
        eq(modelCalls.tenantId, who.tenantId),
        eq(modelCalls.taskId, who.taskId),
        eq(modelCalls.runId, who.runId),
        eq(modelCalls.agentId, who.agentId),
        eq(modelCalls.purpose, who.purpose),
      ),
    );
  return { tokens: Number(row?.tokens ?? 0), costUsd: Number(row?.cost ?? 0) };
}

const MAX_REASONS = 5;

/**
 * What the verdict states about a run's model traffic and the gateway's refusals, added up by
 * PostgreSQL: an agent may make a run's calls (each storing up to 2 MiB of bodies) and refusals
 * countless, and the worker issuing the verdict reads only the totals. Costs are summed as exact
 * decimals, so a retried verdict adds them to the same figure whatever order the rows come in.
 */
export async function gatewaySummary(db: Db, tenantId: string, taskId: string, runId: string): Promise<GatewaySummary> {
  const ofRun = and(eq(modelCalls.tenantId, tenantId), eq(modelCalls.taskId, taskId), eq(modelCalls.runId, runId));
  const [totals] = await db
    .select({
      calls: sql<string>`count(*)`,
      inputTokens: sql<string>`coalesce(sum(${modelCalls.inputTokens}), 0)`,
      outputTokens: sql<string>`coalesce(sum(${modelCalls.outputTokens}), 0)`,
      costUsd: sql<string>`coalesce(sum(${modelCalls.costUsd}::text::numeric), 0)`,
    })
    .from(modelCalls)
    .where(ofRun);
  const perUpstream = await db
    .select({ upstream: modelCalls.upstream, calls: sql<string>`count(*)` })
    .from(modelCalls)
    .where(ofRun)
    .groupBy(modelCalls.upstream);
  const refused = and(
    eq(sandboxEvents.tenantId, tenantId),
    eq(sandboxEvents.taskId, taskId),
    eq(sandboxEvents.kind, 'gateway'),
    eq(sandboxEvents.allowed, false),
    sql`${sandboxEvents.detail}->>'runId' = ${runId}`,
  );
  // A row stands for one refusal, or for the count a session recorded past its cap.
  const [{ refusals }] = await db
    .select({ refusals: sql<string>`coalesce(sum(coalesce((${sandboxEvents.detail}->>'unrecorded')::bigint, 1)), 0)` })
    .from(sandboxEvents)
    .where(refused);
  const reasons = await db
    .select({ reason: sql<string>`coalesce(${sandboxEvents.reason}, '')` })
    .from(sandboxEvents)
    .where(refused)
    .groupBy(sql`1`)
    .orderBy(sql`min(${sandboxEvents.id})`)
    .limit(MAX_REASONS);
  const [stop] = await db
    .select({ reason: sandboxEvents.reason })
    .from(sandboxEvents)
    .where(and(refused, sql`${sandboxEvents.detail}->>'stop' = 'true'`))
    .orderBy(asc(sandboxEvents.id))
    .limit(1);
  return {
    calls: Number(totals.calls),
    inputTokens: Number(totals.inputTokens),
    outputTokens: Number(totals.outputTokens),
    costUsd: Number(totals.costUsd),
    byUpstream: Object.fromEntries(perUpstream.map((u) => [u.upstream, Number(u.calls)])),
    refusals: Number(refusals),
    refusalReasons: reasons.map((r) => r.reason),
    ...(stop?.reason ? { stopReason: stop.reason } : {}),
  };
}
