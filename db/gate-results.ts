/**
 * Gate results as the activities that judged them store them: per run, attempt and name, with
 * the tree they judged. The verdict is signed over these, not over what a workflow hands over.
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { GateResult } from '../domain/task';
import type { Db } from './client';
import { gateResults } from './schema';
import { excludedColumns } from './upsert';

/** Where one attempt's gates were judged. */
export interface GateAttempt {
  tenantId: string;
  taskId: string;
  runId: string;
  attempt: number;
  treeId: string;
  /** Where the change was measured from, for the gates that measured it. */
  baseCommit?: string;
}

/** Records `gates` of one attempt in one statement; a retried attempt's rows replace its earlier ones. */
export async function saveGateResults(db: Db, at: GateAttempt, gates: readonly GateResult[]): Promise<void> {
  const { tenantId, taskId, runId, attempt, treeId } = at;
  const baseCommit = at.baseCommit ?? null;
  const byName = new Map(gates.map((gate) => [gate.name, gate])); // one row per name, as the key requires
  const rows = [...byName.values()].map((gate) => ({
    ...{ tenantId, taskId, runId, attempt, treeId, baseCommit, kind: gate.kind, status: gate.status },
    ...{ detail: gate.detail },
    ...{ exitCode: gate.exitCode ?? null, durationMs: gate.durationMs ?? null, name: gate.name },
    ...{ outputDigest: gate.outputDigest ?? null, outputTail: gate.outputTail ?? null },
  }));
  if (rows.length === 0) return;
  await db
    .insert(gateResults)
    .values(rows)
    .onConflictDoUpdate({
      target: [gateResults.tenantId, gateResults.taskId, gateResults.runId, gateResults.attempt, gateResults.name],
      set: excludedColumns(gateResults, [
        'treeId',
        'baseCommit',
        'kind',
        'status',
        'detail',
        'exitCode',
        'durationMs',
        'outputDigest',
        'outputTail',
      ]),
    });
}

/** A stored gate result as a verdict is checked against it. */
export interface StoredGate {
  kind: string;
  status: string;
  baseCommit: string | null;
}

/**
 * The latest stored result of each gate that judged `treeId` in the task: the run's own, or, when
 * it stored none for the tree (a run reset past verification), its predecessors' among `fromRuns`
 * when given (the runs that judged by the same policy).
 */
export async function latestGateResults(
  db: Db,
  judged: { tenantId: string; taskId: string; runId: string },
  treeId: string,
  fromRuns?: ReadonlySet<string>,
): Promise<Map<string, StoredGate>> {
  const rows = await db
    .select({
      name: gateResults.name,
      kind: gateResults.kind,
      status: gateResults.status,
      runId: gateResults.runId,
      baseCommit: gateResults.baseCommit,
    })
    .from(gateResults)
    .where(
      and(
        eq(gateResults.tenantId, judged.tenantId),
        eq(gateResults.taskId, judged.taskId),
        eq(gateResults.treeId, treeId),
      ),
    )
    .orderBy(asc(gateResults.id));
  const own = rows.filter((r) => r.runId === judged.runId);
  const earlier = fromRuns ? rows.filter((r) => fromRuns.has(r.runId)) : rows;
  return new Map((own.length ? own : earlier).map((r) => [r.name, r]));
}

/** Whether the run stored results before results named their tree (in flight across the upgrade). */
export async function hasTreelessGateResults(
  db: Db,
  judged: { tenantId: string; taskId: string; runId: string },
): Promise<boolean> {
  const [row] = await db
    .select({ id: gateResults.id })
    .from(gateResults)
    .where(
      and(
        eq(gateResults.tenantId, judged.tenantId),
        eq(gateResults.taskId, judged.taskId),
        eq(gateResults.runId, judged.runId),
        isNull(gateResults.treeId),
      ),
    )
    .limit(1);
  return row !== undefined;
}
