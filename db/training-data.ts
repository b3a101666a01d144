/**
 * Rows for `arbiter export-training-data`: for each finished, routed task, the task's features,
 * the routing decision and the outcome. File paths and contents are left out unless asked for,
 * because they may carry customer code.
 */
import { and, asc, eq, gte } from 'drizzle-orm';
import type { Db } from './client';
import { agentOutcomes, artifacts, routingDecisions, tasks, verdicts } from './schema';

/** What to include. */
export interface ExportOptions {
  since?: Date;
  tenantId?: string;
  includePaths?: boolean;
  includeContents?: boolean;
}

/** One JSONL record. */
export interface TrainingRecord {
  tenantId: string;
  taskId: string;
  finishedAt: string;
  features: {
    taskType: string;
    riskTier: number | null;
    specId: string | null;
    filesChanged: number | null;
    linesChanged: number | null;
  };
  agentId: string;
  decision: { exploration: boolean; candidates: unknown };
  outcome: { outcome: string; reward: number; latencyMs: number; tokens: number; costUsd: number };
  paths?: string[];
  patch?: string;
}

function pathsOf(patch: string): string[] {
  return [...new Set([...patch.matchAll(/^diff --git a\/(.+?) b\//gm)].map((m) => m[1]))];
}

/** Streams the records in finish order. */
export async function* trainingRecords(db: Db, options: ExportOptions = {}): AsyncGenerator<TrainingRecord> {
  const conditions = [];
  if (options.since) conditions.push(gte(agentOutcomes.createdAt, options.since));
  if (options.tenantId) conditions.push(eq(agentOutcomes.tenantId, options.tenantId));
  const rows = await db
    .select({ o: agentOutcomes, d: routingDecisions, t: tasks, payload: verdicts.payload })
    .from(agentOutcomes)
    .innerJoin(
      routingDecisions,
      and(
        eq(routingDecisions.tenantId, agentOutcomes.tenantId),
        eq(routingDecisions.taskId, agentOutcomes.taskId),
        eq(routingDecisions.runId, agentOutcomes.runId),
      ),
    )
    .leftJoin(tasks, and(eq(tasks.tenantId, agentOutcomes.tenantId), eq(tasks.id, agentOutcomes.taskId)))
    .leftJoin(
      verdicts,
      and(
        eq(verdicts.tenantId, agentOutcomes.tenantId),
        eq(verdicts.taskId, agentOutcomes.taskId),
        eq(verdicts.runId, agentOutcomes.runId),
      ),
    )
    .where(and(...conditions))
    .orderBy(asc(agentOutcomes.createdAt));
  for (const { o, d, t, payload } of rows) {
    const diff = payload?.diff;
    const record: TrainingRecord = {
      tenantId: o.tenantId,
      taskId: o.taskId,
      finishedAt: o.createdAt.toISOString(),
      features: {
        taskType: o.taskType,
        riskTier: t?.riskTier ?? null,
        specId: t?.specId ?? null,
        filesChanged: diff?.filesChanged ?? null,
        linesChanged: diff ? diff.linesAdded + diff.linesDeleted : null,
      },
      agentId: o.agentId,
      decision: { exploration: d.exploration, candidates: d.candidates },
      outcome: { outcome: o.outcome, reward: o.reward, latencyMs: o.latencyMs, tokens: o.tokens, costUsd: o.costUsd },
    };
    if (options.includePaths || options.includeContents) {
      const [patch] = await db
        .select({ content: artifacts.content, encoding: artifacts.encoding })
        .from(artifacts)
        .where(
          and(
            eq(artifacts.tenantId, o.tenantId),
            eq(artifacts.taskId, o.taskId),
            eq(artifacts.runId, o.runId),
            eq(artifacts.kind, 'patch'),
          ),
        );
      const text = patch
        ? Buffer.from(patch.content, patch.encoding === 'base64' ? 'base64' : 'utf8').toString('utf8')
        : '';
      if (options.includePaths) record.paths = pathsOf(text);
      if (options.includeContents) record.patch = text;
    }
    yield record;
  }
}
