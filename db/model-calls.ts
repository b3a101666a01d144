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

/** What the verdict states about a run's model traffic and the gateway's refusals. */
export async function gatewaySummary(db: Db, tenantId: string, taskId: string, runId: string): Promise<GatewaySummary> {
  const calls = await modelCallsOf(db, tenantId, taskId, runId);
  const refusals = await db
    .select({ reason: sandboxEvents.reason, detail: sandboxEvents.detail })
    .from(sandboxEvents)
    .where(
      and(
        eq(sandboxEvents.tenantId, tenantId),
        eq(sandboxEvents.taskId, taskId),
        eq(sandboxEvents.kind, 'gateway'),
        eq(sandboxEvents.allowed, false),
        sql`${sandboxEvents.detail}->>'runId' = ${runId}`,
      ),
    )
    .orderBy(asc(sandboxEvents.id));
  const byUpstream: Record<string, number> = {};
  for (const c of calls) byUpstream[c.upstream] = (byUpstream[c.upstream] ?? 0) + 1;
  const stop = refusals.find((r) => (r.detail as { stop?: boolean }).stop);
  return {
    calls: calls.length,
    inputTokens: calls.reduce((n, c) => n + c.inputTokens, 0),
    outputTokens: calls.reduce((n, c) => n + c.outputTokens, 0),
    costUsd: calls.reduce((n, c) => n + c.costUsd, 0),
    byUpstream,
    refusals: refusals.length,
    refusalReasons: [...new Set(refusals.map((r) => r.reason ?? ''))].slice(0, MAX_REASONS),
    ...(stop?.reason ? { stopReason: stop.reason } : {}),
  };
}
