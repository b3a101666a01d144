/**
 * What routing learns from: per-tenant statistics per agent, task type and context, updated exactly
 * once per finished task, and each tenant's circuit breaker per agent for infrastructure failures.
 */
import { and, eq, sql, type SQL } from 'drizzle-orm';
import { RecordMismatchError } from '../domain/errors';
import type { Db, DbExecutor } from './client';
import { agentCircuits, agentContextStats, agentHealthReports, agentOutcomes, agentStats } from './schema';

/** A finished task's contribution to its agent's statistics. */
export interface AgentOutcome {
  tenantId: string;
  taskId: string;
  /** The run that finished the task; '' only for outcomes seeded outside any run (benchmarks). */
  runId?: string;
  agentId: string;
  taskType: string;
  /** The task's routing context key (domain/routing-context.ts); absent from outcomes recorded before contexts. */
  context?: string;
  outcome: string;
  reward: number;
  latencyMs: number;
  tokens: number;
  costUsd: number;
}

/**
 * Adds the outcome to the statistics once: the outcome row is the guard, inserted in the same
 * transaction, so a retried activity or a replayed workflow changes nothing the second time.
 * Returns whether this call applied it. An outcome another run already recorded for the task is
 * refused (RecordMismatchError): statistics count a task once, and never as another run's.
 */
export async function recordOutcome(db: Db, o: AgentOutcome): Promise<boolean> {
  const runId = o.runId ?? '';
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(agentOutcomes)
      .values({ ...o, runId })
      .onConflictDoNothing()
      .returning({ taskId: agentOutcomes.taskId });
    if (inserted.length === 0) {
      const [stored] = await tx
        .select({ runId: agentOutcomes.runId })
        .from(agentOutcomes)
        .where(and(eq(agentOutcomes.tenantId, o.tenantId), eq(agentOutcomes.taskId, o.taskId)));
      if (stored.runId !== runId)
        throw new RecordMismatchError(
          'agent outcome',
          `task ${o.tenantId}/${o.taskId} was counted for run '${stored.runId}', not '${runId}'`,
        );
      return false;
    }
    const delta = {
      tasks: 1,
      successes: o.reward,
      failures: 1 - o.reward,
      totalLatencyMs: o.latencyMs,
      totalTokens: o.tokens,
      totalCostUsd: o.costUsd,
    };
    if (o.context) await addContextOutcome(tx, o, o.context);
    await tx
      .insert(agentStats)
      .values({ tenantId: o.tenantId, agentId: o.agentId, taskType: o.taskType, ...delta })
      .onConflictDoUpdate({
        target: [agentStats.tenantId, agentStats.agentId, agentStats.taskType],
        set: {
          tasks: sql`${agentStats.tasks} + 1`,
          successes: sql`${agentStats.successes} + ${o.reward}`,
          failures: sql`${agentStats.failures} + ${1 - o.reward}`,
          totalLatencyMs: sql`${agentStats.totalLatencyMs} + ${o.latencyMs}`,
          totalTokens: sql`${agentStats.totalTokens} + ${o.tokens}`,
          totalCostUsd: sql`${agentStats.totalCostUsd} + ${o.costUsd}`,
          updatedAt: sql`now()`,
        },
      });
    return true;
  });
}

/** Adds the outcome's reward to the agent's record in the task's context. */
async function addContextOutcome(tx: DbExecutor, o: AgentOutcome, context: string): Promise<void> {
  await tx
    .insert(agentContextStats)
    .values({
      tenantId: o.tenantId,
      agentId: o.agentId,
      context,
      tasks: 1,
      successes: o.reward,
      failures: 1 - o.reward,
    })
    .onConflictDoUpdate({
      target: [agentContextStats.tenantId, agentContextStats.agentId, agentContextStats.context],
      set: {
        tasks: sql`${agentContextStats.tasks} + 1`,
        successes: sql`${agentContextStats.successes} + ${o.reward}`,
        failures: sql`${agentContextStats.failures} + ${1 - o.reward}`,
        updatedAt: sql`now()`,
      },
    });
}

/** When the breaker opens and for how long. */
export interface BreakerPolicy {
  threshold: number;
  cooldownMs: number;
}

/** Default: three infrastructure failures in a row open the circuit for five minutes. */
const DEFAULT_BREAKER: BreakerPolicy = { threshold: 3, cooldownMs: 5 * 60_000 };

/** One run's report of its agent's health; the run reports once, so a retry of it is found in the ledger. */
export interface AgentHealthReport {
  tenantId: string;
  taskId: string;
  runId: string;
  agentId: string;
  ok: boolean;
}

/**
 * Records an infrastructure success or failure of an agent, once per task: the report's ledger row
 * is the guard, inserted in the same transaction, so a retried report changes nothing, nor does the
 * report of a run a reset made of a task that already reported. A success closes the tenant's
 * circuit for the agent; the threshold-th failure in a row opens it until now + cooldown, for that
 * tenant alone (its own workflow code may write the reports). After the cooldown the router lets
 * the agent take one of its tasks again (the probe); its result closes or re-opens it.
 */
export async function recordAgentHealth(
  db: Db,
  report: AgentHealthReport,
  policy: BreakerPolicy = DEFAULT_BREAKER,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const fresh = await tx.insert(agentHealthReports).values(report).onConflictDoNothing().returning();
    if (fresh.length === 0) return false;
    // One task counts once for its agent: each run a reset makes of it would report again, and a few
    // resets of one failed (or passed) history would open (or close) a circuit other tenants share.
    const reports = await tx
      .select({ runId: agentHealthReports.runId })
      .from(agentHealthReports)
      .where(
        and(
          eq(agentHealthReports.tenantId, report.tenantId),
          eq(agentHealthReports.taskId, report.taskId),
          eq(agentHealthReports.agentId, report.agentId),
        ),
      )
      .limit(2);
    if (reports.length > 1) return false;
    await updateCircuit(tx, report, policy);
    return true;
  });
}

/** The report's tenant's circuit for the agent: a success closes it, the threshold-th failure in a row opens it. */
async function updateCircuit(tx: DbExecutor, report: AgentHealthReport, policy: BreakerPolicy): Promise<void> {
  const key = { tenantId: report.tenantId, agentId: report.agentId };
  if (report.ok) {
    await tx
      .insert(agentCircuits)
      .values(key)
      .onConflictDoUpdate({
        target: [agentCircuits.tenantId, agentCircuits.agentId],
        set: { consecutiveInfraFailures: 0, circuitOpenUntil: null, updatedAt: sql`now()` },
      });
    return;
  }
  const cooldownSeconds = policy.cooldownMs / 1000;
  const opensAt = (failures: SQL) =>
    sql`CASE WHEN ${failures} >= ${policy.threshold} THEN now() + make_interval(secs => ${cooldownSeconds}) END`;
  await tx
    .insert(agentCircuits)
    .values({ ...key, consecutiveInfraFailures: 1, circuitOpenUntil: opensAt(sql`1`) })
    .onConflictDoUpdate({
      target: [agentCircuits.tenantId, agentCircuits.agentId],
      set: {
        consecutiveInfraFailures: sql`${agentCircuits.consecutiveInfraFailures} + 1`,
        circuitOpenUntil: sql`coalesce(${opensAt(sql`${agentCircuits.consecutiveInfraFailures} + 1`)}, ${agentCircuits.circuitOpenUntil})`,
        updatedAt: sql`now()`,
      },
    });
}
