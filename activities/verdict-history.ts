/**
 * What a verdict states besides the judged change: the attempts before it and a best-of-N task's
 * candidates. The workflow hands both over, and an insider's own workflow code (or `temporal
 * activity complete`) can hand over anything: an attempt that never ran, a candidate's verdict
 * or the reason it lost made up. Each is held to the record, or the verdict is not signed.
 */
import { and, eq, inArray } from 'drizzle-orm';
import { canonicalJson } from '../domain/canonical';
import { candidateTaskId, rankCandidates, type CandidateEvidence } from '../domain/candidates';
import { escapeNul } from '../domain/bounds';
import { RecordMismatchError } from '../domain/errors';
import type { AttemptRecord } from '../domain/task';
import type { Db } from '../db/client';
import { attemptGateResults, type StoredGate } from '../db/gate-results';
import { waiversForTree } from '../db/waivers';
import type { RunKey } from '../db/run-policies';
import { artifacts } from '../db/schema';
import { candidateEvidence } from './candidates';
import { evidenceProblem, signedGate } from './verdict-gates';

/** How an earlier attempt's patch is not one the task stored with the figures the verdict states. */
async function attemptPatchProblem(db: Db, tasks: RunKey[], a: AttemptRecord): Promise<string | undefined> {
  const { diff } = a;
  const [row] = await db
    .select({ taskId: artifacts.taskId, treeId: artifacts.treeId, stats: artifacts.stats })
    .from(artifacts)
    .where(
      and(
        eq(artifacts.id, diff.artifactId),
        eq(artifacts.tenantId, tasks[0].tenantId),
        inArray(
          artifacts.taskId,
          tasks.map((t) => t.taskId),
        ),
        eq(artifacts.kind, 'patch'),
        eq(artifacts.digest, diff.digest),
      ),
    );
  if (!row) return `attempt ${a.attempt}: patch ${diff.artifactId} (${diff.digest}) is not one the task stored`;
  if (row.treeId !== null && row.treeId !== diff.treeId)
    return `attempt ${a.attempt}: patch ${diff.artifactId} is the change to tree ${row.treeId}, not ${diff.treeId}`;
  const figures = (s: { filesChanged: number; linesAdded: number; linesDeleted: number }) =>
    `${s.filesChanged} files, +${s.linesAdded} -${s.linesDeleted} lines`;
  if (row.stats && figures(row.stats) !== figures(diff))
    return `attempt ${a.attempt}: its patch measured ${figures(row.stats)}; the verdict states ${figures(diff)}`;
  return undefined;
}

/**
 * How an earlier attempt's gates differ from the results that attempt stored for its tree. A waiver
 * granted for the tree since passed its budget rows (`storeWaiver`), so a budget stated failed
 * there stands for the row as it was judged.
 */
async function attemptGateProblems(
  db: Db,
  judged: RunKey,
  a: AttemptRecord,
  fromRuns?: ReadonlySet<string>,
): Promise<{ problems: string[]; rows: ReadonlyMap<string, StoredGate> }> {
  const rows = await attemptGateResults(db, judged, a.attempt, a.diff.treeId, fromRuns);
  const waived = (await waiversForTree(db, judged.tenantId, judged.taskId, a.diff.treeId)).length > 0;
  const problems = a.gates.flatMap((g) => {
    const stored = rows.get(g.name);
    if (!stored) return [`gate ${g.name}: no result of it was stored for tree ${a.diff.treeId}`];
    const waivedBudget = waived && g.name === 'budget' && stored.status === 'pass' && g.status === 'fail';
    const row = waivedBudget ? { ...stored, status: g.status, detail: escapeNul(g.detail) } : stored;
    if (row.kind !== g.kind || row.status !== g.status)
      return [`gate ${g.name}: stored as ${row.kind} ${row.status}, handed over as ${g.kind} ${g.status}`];
    const evidence = evidenceProblem(row, g);
    return evidence ? [`gate ${g.name}: ${evidence}`] : [];
  });
  const named = new Set(a.gates.map((g) => g.name));
  for (const [name, row] of rows)
    if (!named.has(name)) problems.push(`gate ${name}: stored as ${row.status}, left out`);
  if (!a.gates.some((g) => g.status === 'fail')) problems.push('no gate of it failed');
  return { problems, rows };
}

/**
 * The attempts before the judged one as the verdict signs them, each held to the record: a patch
 * the task stored with the figures stated, and the gates that attempt stored for the patch's tree
 * (a failed one among them, or it would not have been retried). Throws when one is not the record's.
 */
export async function recordedAttempts(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  attempts: readonly AttemptRecord[],
  fromRuns?: ReadonlySet<string>,
): Promise<AttemptRecord[]> {
  const numbers = attempts.map((a) => a.attempt);
  if (numbers.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= numbers[i - 1])))
    throw new RecordMismatchError('attempts', `attempts ${JSON.stringify(numbers)} are not numbered 1, 2, … in order`);
  const tasks = [runs.own, runs.judged];
  return Promise.all(
    attempts.map(async (a) => {
      const patch = await attemptPatchProblem(db, tasks, a);
      if (patch) throw new RecordMismatchError('attempts', patch);
      const { problems, rows } = await attemptGateProblems(db, runs.own, a, fromRuns);
      if (problems.length) throw new RecordMismatchError('attempts', `attempt ${a.attempt}: ${problems.join('; ')}`);
      return { ...a, gates: a.gates.map((g) => signedGate(g, rows.get(g.name))) };
    }),
  );
}

/**
 * Refuses a best-of-N verdict whose candidates are not as their records show: each candidate's
 * evidence (its run, end state, verdict, usage) read again as `assessCandidates` reads it, the
 * reason the one with the same ranking gives, and the judged candidate the first with a verdict.
 */
export async function assertRecordedCandidates(
  db: Db,
  keyId: string,
  input: {
    tenantId: string;
    taskId: string;
    adoptedFrom?: { index: number; runId: string };
    candidates?: { assessed: readonly CandidateEvidence[]; reason: string };
  },
): Promise<void> {
  const { candidates, adoptedFrom } = input;
  if (!candidates) return;
  if (!adoptedFrom) throw new RecordMismatchError('candidates', 'candidates are named but no candidate is judged');
  const recorded = await Promise.all(
    candidates.assessed.map((c) =>
      candidateEvidence(
        db,
        keyId,
        { tenantId: input.tenantId, taskId: candidateTaskId(input.taskId, c.index), runId: c.runId },
        c.index,
      ),
    ),
  );
  const differing = candidates.assessed.filter((c, i) => canonicalJson(c) !== canonicalJson(recorded[i]));
  if (differing.length)
    throw new RecordMismatchError(
      'candidates',
      `candidate ${differing.map((c) => c.index).join(', ')}: stated otherwise than its records show`,
    );
  const { ranked, reason } = rankCandidates(recorded);
  const judged = ranked.find((c) => c.verdict);
  if (judged?.index !== adoptedFrom.index || judged.runId !== adoptedFrom.runId)
    throw new RecordMismatchError('candidates', `candidate ${adoptedFrom.index} is not the one the ranking judges`);
  if (reason !== candidates.reason)
    throw new RecordMismatchError('candidates', `the reason stated is not the ranking's: ${reason}`);
}
