/**
 * Gate results as the activities that judged them store them: per run, attempt and name, with
 * the tree they judged. The verdict is signed over these, not over what a workflow hands over.
 */
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
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

/**
 * Records `gates` of one attempt in one statement; a retried attempt's rows replace its earlier
 * ones, but for a failure on the same tree and base, which no retry turns into a pass.
 */
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
      // A failure stands: a retried attempt may not turn it into a pass on the same change.
      setWhere: sql`NOT (${gateResults.status} = 'fail' AND excluded.status <> 'fail'
        AND ${gateResults.treeId} IS NOT DISTINCT FROM excluded.tree_id
        AND ${gateResults.baseCommit} IS NOT DISTINCT FROM excluded.base_commit)`,
    });
}

/** A stored gate result as a verdict is checked against it. */
export interface StoredGate {
  kind: string;
  status: string;
  baseCommit: string | null;
  /** An earlier result of the same gate on the same tree and base that failed: a pass after it does not stand. */
  failedBefore?: { runId: string; attempt: number };
}

/**
 * The latest stored result of each gate that judged `treeId` in the task: the run's own, or, when
 * it stored none for the tree (a run reset past verification), its predecessors' among `fromRuns`
 * when given (the runs that judged by the same policy). Each names the first failure of that gate
 * on the tree among all of those runs' attempts, so a check re-run until it passes is seen.
 */
export async function latestGateResults(
  db: Db,
  judged: { tenantId: string; taskId: string; runId: string },
  treeId: string,
  fromRuns?: ReadonlySet<string>,
): Promise<Map<string, StoredGate>> {
  const rows = await db
    .select({
      id: gateResults.id,
      name: gateResults.name,
      kind: gateResults.kind,
      status: gateResults.status,
      runId: gateResults.runId,
      attempt: gateResults.attempt,
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
  const latest = new Map((own.length ? own : earlier).map((r) => [r.name, r]));
  const considered = [...own, ...earlier];
  return new Map(
    [...latest].map(([name, row]) => {
      const failure = considered.find(
        (r) => r.name === name && r.id !== row.id && r.status === 'fail' && r.baseCommit === row.baseCommit,
      );
      const stored: StoredGate = { kind: row.kind, status: row.status, baseCommit: row.baseCommit };
      return [name, failure ? { ...stored, failedBefore: { runId: failure.runId, attempt: failure.attempt } } : stored];
    }),
  );
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
