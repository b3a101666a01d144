/**
 * What a verdict states besides the judged change: the attempts before it and a best-of-N task's
 * candidates. The workflow hands both over, and an insider's own workflow code (or `temporal
 * activity complete`) can hand over anything: an attempt that never ran, a candidate's verdict
 * or the reason it lost made up. Each is held to, or read again from, the record.
 */
import { candidateTaskId, rankCandidates, type CandidateEvidence } from '../domain/candidates';
import { escapeNul } from '../domain/bounds';
import { RecordMismatchError } from '../domain/errors';
import type { AttemptRecord } from '../domain/task';
import { patchAttempt, storedPatchOf } from '../db/artifacts';
import type { Db } from '../db/client';
import { attemptGateResults, hasTreelessGateResults } from '../db/gate-results';
import { waiversForTree } from '../db/waivers';
import type { RunKey } from '../db/run-policies';
import { candidateEvidence } from './candidates';
import { leftOut, signedGate, storedOtherwise, type GateCheck } from './verdict-gates';

/** How an earlier attempt's patch is not one the task stored with the figures the verdict states. */
async function attemptPatchProblem(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  a: AttemptRecord,
): Promise<string | undefined> {
  const { diff } = a;
  const row = await storedPatchOf(db, runs, diff);
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
): Promise<GateCheck> {
  const rows = await attemptGateResults(db, judged, a.attempt, a.diff.treeId, fromRuns);
  const waived = (await waiversForTree(db, judged.tenantId, judged.taskId, a.diff.treeId)).length > 0;
  const problems = a.gates.flatMap((g) => {
    const stored = rows.get(g.name);
    if (!stored) return [`gate ${g.name}: no result of it was stored for tree ${a.diff.treeId}`];
    const waivedBudget = waived && g.name === 'budget' && stored.status === 'pass' && g.status === 'fail';
    const differs = storedOtherwise(
      waivedBudget ? { ...stored, status: g.status, detail: escapeNul(g.detail) } : stored,
      g,
    );
    return differs ? [`gate ${g.name}: ${differs}`] : [];
  });
  if (!a.gates.some((g) => g.status === 'fail')) problems.push('no gate of it failed');
  return { problems: [...problems, ...leftOut(rows, a.gates)], rows };
}

/**
 * The attempts before the judged one as the verdict signs them, each held to the record: a patch
 * the task stored with the figures stated, and the gates that attempt stored for the patch's tree
 * (a failed one among them, or it would not have been retried). Throws when one is not the record's,
 * or when one is left out: the judged patch names its attempt, and every attempt before it is
 * listed, so no failed try is hidden from whoever reads the verdict. A run that stored results
 * before they named their tree is held to its patches alone.
 */
export async function recordedAttempts(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  judgedPatch: string,
  attempts: readonly AttemptRecord[],
  fromRuns?: ReadonlySet<string>,
): Promise<AttemptRecord[]> {
  const numbers = attempts.map((a) => a.attempt);
  if (numbers.some((n, i) => n !== i + 1))
    throw new RecordMismatchError('attempts', `attempts ${JSON.stringify(numbers)} are not numbered 1, 2, … in order`);
  const treeless = attempts.length > 0 && (await hasTreelessGateResults(db, runs.own));
  const recorded = await Promise.all(
    attempts.map(async (a) => {
      const patch = await attemptPatchProblem(db, runs, a);
      if (patch) throw new RecordMismatchError('attempts', patch);
      if (treeless) return { ...a, gates: a.gates.map((g) => signedGate(g)) };
      const { problems, rows } = await attemptGateProblems(db, runs.own, a, fromRuns);
      if (problems.length) throw new RecordMismatchError('attempts', `attempt ${a.attempt}: ${problems.join('; ')}`);
      return { ...a, gates: a.gates.map((g) => signedGate(g, rows.get(g.name))) };
    }),
  );
  const judged = patchAttempt(judgedPatch);
  if (judged !== attempts.length + 1)
    throw new RecordMismatchError(
      'attempts',
      judged === undefined
        ? `patch ${judgedPatch} names no attempt`
        : `the judged change is attempt ${judged}'s; the verdict lists ${attempts.length} attempt(s) before it`,
    );
  return recorded;
}

/**
 * A best-of-N verdict's candidates as it signs them: each read again from its records as
 * `assessCandidates` reads it, and the reason their ranking gives (a candidate's record may have
 * grown since it was assessed: a verdict its cancelled run stored after all). Refuses candidates
 * without a judged one, or the reverse, and a judged candidate that has no verdict of its own.
 */
export async function recordedCandidates(
  db: Db,
  keyId: string,
  input: {
    tenantId: string;
    taskId: string;
    adoptedFrom?: { index: number; runId: string };
    candidates?: { assessed: readonly CandidateEvidence[]; reason: string };
  },
): Promise<{ assessed: CandidateEvidence[]; reason: string } | undefined> {
  const { candidates, adoptedFrom } = input;
  if (!candidates && !adoptedFrom) return undefined;
  if (!candidates || !adoptedFrom)
    throw new RecordMismatchError('candidates', 'a best-of-N verdict names both its candidates and the judged one');
  const assessed = await Promise.all(
    candidates.assessed.map((c) => {
      const who = { tenantId: input.tenantId, taskId: candidateTaskId(input.taskId, c.index), runId: c.runId };
      return candidateEvidence(db, keyId, who, c.index);
    }),
  );
  const judged = assessed.find((c) => c.index === adoptedFrom.index && c.runId === adoptedFrom.runId);
  if (!judged?.verdict)
    throw new RecordMismatchError('candidates', `candidate ${adoptedFrom.index} is not among them with a verdict`);
  return { assessed, reason: rankCandidates(assessed).reason };
}
