/**
 * Gate results as the activities that judged them store them: per run, attempt and name, with
 * the tree they judged. The verdict is signed over these, not over what a workflow hands over.
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { GateResult, GateSource } from '../domain/task';
import type { Db } from './client';
import { gateResults } from './schema';

/** Where one attempt's gates were judged. */
export interface GateAttempt {
  tenantId: string;
  taskId: string;
  runId: string;
  attempt: number;
  treeId: string;
  /** Where the change was measured from, for the gates that measured it. */
  baseCommit?: string;
  /** The spec that fixed the gates (see `gate_results.spec_digest`), for those a spec fixes. */
  specDigest?: string;
}

/**
 * Records `gates` of one attempt in one statement. Every result is a row of its own, a retried
 * attempt's too: the latest on a tree counts, and no result replaces a failure (see
 * {@link latestGateResults}).
 */
export async function saveGateResults(db: Db, at: GateAttempt, gates: readonly GateResult[]): Promise<void> {
  const { tenantId, taskId, runId, attempt, treeId } = at;
  const baseCommit = at.baseCommit ?? null;
  const specDigest = at.specDigest ?? null;
  const byName = new Map(gates.map((gate) => [gate.name, gate])); // one row per name and attempt
  const rows = [...byName.values()].map((gate) => ({
    ...{ tenantId, taskId, runId, attempt, treeId, baseCommit, kind: gate.kind, status: gate.status },
    ...{ detail: gate.detail, specDigest },
    ...{ exitCode: gate.exitCode ?? null, durationMs: gate.durationMs ?? null, name: gate.name },
    ...{ outputDigest: gate.outputDigest ?? null, outputTail: gate.outputTail ?? null },
    ...{ source: gate.source, argv: gate.argv ?? null },
  }));
  if (rows.length) await db.insert(gateResults).values(rows);
}

/** A stored gate result as a verdict is checked against it, and states it. */
export interface StoredGate {
  kind: string;
  status: string;
  detail: string;
  baseCommit: string | null;
  /** The spec that fixed it; null for the policy's commands and rows stored before migration 0025. */
  specDigest: string | null;
  exitCode: number | null;
  durationMs: number | null;
  outputDigest: string | null;
  /** Where the gate came from and what it ran; null (both) for rows stored before migration 0026. */
  source: GateSource | null;
  argv: string[] | null;
  /** The run that stored it. */
  runId: string;
  /** An earlier failure of the same command gate on the same tree: a pass after it does not stand. */
  failedBefore?: FailedAt;
}

/** Where a gate failed: the run and attempt. */
export interface FailedAt {
  runId: string;
  attempt: number;
}

/** A command gate's failure on a change, with the evidence its run stored. */
export interface StandingFailure extends FailedAt {
  detail: string;
  exitCode: number | null;
  outputDigest: string | null;
  outputTail: string | null;
}

type Judged = { tenantId: string; taskId: string; runId: string };

/**
 * The results stored for `treeId` in the task: the run's own, those of `fromRuns`, and those of
 * `failuresFrom` (each all runs when not given).
 */
async function resultsOnTree(
  db: Db,
  judged: Judged,
  treeId: string,
  fromRuns?: ReadonlySet<string>,
  failuresFrom = fromRuns,
) {
  const rows = await db
    .select({
      id: gateResults.id,
      name: gateResults.name,
      kind: gateResults.kind,
      status: gateResults.status,
      runId: gateResults.runId,
      attempt: gateResults.attempt,
      baseCommit: gateResults.baseCommit,
      detail: gateResults.detail,
      exitCode: gateResults.exitCode,
      outputDigest: gateResults.outputDigest,
      outputTail: gateResults.outputTail,
      specDigest: gateResults.specDigest,
      durationMs: gateResults.durationMs,
      source: gateResults.source,
      argv: gateResults.argv,
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
  const among = (runs?: ReadonlySet<string>) => (runs ? rows.filter((r) => runs.has(r.runId)) : rows);
  const own = rows.filter((r) => r.runId === judged.runId);
  return { own, earlier: among(fromRuns), failures: [...own, ...among(failuresFrom)] };
}

type ResultRow = Awaited<ReturnType<typeof resultsOnTree>>['failures'][number];

function firstFailure(rows: readonly ResultRow[], name: string, baseCommit: string | null, except?: number) {
  return rows.find((r) => r.name === name && r.id !== except && r.status === 'fail' && r.baseCommit === baseCommit);
}

/**
 * The latest stored result of each gate that judged `treeId` in the task: the run's own, or, when
 * it stored none for the tree (a run reset past verification), its predecessors' among `fromRuns`
 * when given (the runs that judged by the same policy). Each command gate names its first failure
 * on the tree in any attempt of the run or of `failuresFrom` (by default `fromRuns`; the runs
 * that read the same policy file at any commit), so a check re-run until it passes is seen.
 */
export async function latestGateResults(
  db: Db,
  judged: Judged,
  treeId: string,
  fromRuns?: ReadonlySet<string>,
  failuresFrom?: ReadonlySet<string>,
): Promise<Map<string, StoredGate>> {
  const { own, earlier, failures } = await resultsOnTree(db, judged, treeId, fromRuns, failuresFrom);
  const latest = new Map((own.length ? own : earlier).map((r) => [r.name, r]));
  return new Map(
    [...latest].map(([name, row]) => {
      // Arbiter's own gates are judged afresh from the record on every attempt, and may rightly change on
      // the same tree (a waiver claimed since, the trusted ref moved); a command is what a rerun could steer.
      const failed = row.kind === 'command' ? firstFailure(failures, name, row.baseCommit, row.id) : undefined;
      const stored = storedGate(row);
      return [name, failed ? { ...stored, failedBefore: { runId: failed.runId, attempt: failed.attempt } } : stored];
    }),
  );
}

function storedGate(row: ResultRow): StoredGate {
  const { id: _id, name: _name, attempt: _attempt, outputTail: _tail, ...stored } = row;
  return stored;
}

/**
 * The latest stored result of each gate of one attempt on `treeId`: the run's own, else those of
 * `fromRuns` (all runs without it), the runs a reset replaced.
 */
export async function attemptGateResults(
  db: Db,
  judged: Judged,
  attempt: number,
  treeId: string,
  fromRuns?: ReadonlySet<string>,
): Promise<Map<string, StoredGate>> {
  const { own, earlier } = await resultsOnTree(db, judged, treeId, fromRuns);
  // A reset within the attempt leaves some of its results under the run it replaced: the run's own stand first.
  const rows = [...earlier, ...own].filter((r) => r.attempt === attempt);
  return new Map(rows.map((r) => [r.name, storedGate(r)]));
}

/**
 * Where the command gate `name` already failed on `treeId` in this run or one of `fromRuns` (all
 * runs without it): the result that stands for the change, so it is not run again until it passes.
 */
export async function standingFailure(
  db: Db,
  judged: Judged,
  treeId: string,
  name: string,
  fromRuns?: ReadonlySet<string>,
): Promise<StandingFailure | undefined> {
  const { failures } = await resultsOnTree(db, judged, treeId, fromRuns);
  return firstFailure(failures, name, null);
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
