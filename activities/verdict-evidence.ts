/**
 * What a verdict may be signed over: the record its run's own activities wrote, never what its
 * workflow hands over. Anyone who may write to the namespace can complete an activity by its id
 * with a result of their choosing, or run workflow code of their own; the spec, the policy and the
 * gate results a verdict states must be the ones validated, read and stored on a worker.
 */
import type { IssueVerdictInput, PolicyProvenance } from '../domain/activity-io';
import { describeStats, type DiffSummary } from '../domain/diff';
import { canonicalJson } from '../domain/canonical';
import { PolicyMismatchError, RecordMismatchError } from '../domain/errors';
import { missingGates, type SpecGates } from '../domain/policy-gates';
import type { AttemptRecord, GateResult } from '../domain/task';
import type { Db } from '../db/client';
import { storedPatchOf } from '../db/artifacts';
import { findRepo } from '../db/repos';
import { policyFileOf, runsThatRead, type RunKey } from '../db/run-policies';
import { judgingPolicy, type JudgingPolicy } from './repo-policy';
import { specContentDigest, validatedSpec, validatedSpecRecord } from './spec-refs';
import { signedGate, storedGateProblems } from './verdict-gates';
import { recordedAttempts } from './verdict-history';

/** Whether the run judges its own change (not a best-of-N candidate's). */
const isSameRun = (runs: { own: RunKey; judged: RunKey }) =>
  runs.own.taskId === runs.judged.taskId && runs.own.runId === runs.judged.runId;

/**
 * How the verdict's policy and gates differ from what was read from the repository: the policy it
 * names must be the one the run read and the one the judged run read (a best-of-N task judges a
 * candidate's run), and hold Arbiter's gates, the policy's commands and the validated spec's
 * acceptance tests, each as the policy or the spec words it. Also the runs whose stored
 * gate results may stand in for the judged run's (a reset past verification): those that read the
 * same policy. With {@link storedGateProblems}, every gate the policy demands was run by the
 * judged run's own activities, or by a predecessor's under the same policy.
 */
async function policyProblems(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  own: JudgingPolicy | 'legacy',
  input: { policy: PolicyProvenance; gates: readonly GateResult[]; repo: string },
  spec: SpecGates | undefined,
): Promise<{ problems: string[]; fromRuns?: Set<string>; failuresFrom?: Set<string> }> {
  const sameRun = isSameRun(runs);
  const judged = sameRun ? own : await judgingPolicy(db, runs.judged, true);
  // A candidate's run, and a run reset past its read (judged by a predecessor's), may have read at
  // another commit of the trusted ref: the same file is what counts for them.
  const reads = [{ who: 'run', read: own, whole: own !== 'legacy' && own.byThisRun }];
  if (!sameRun) reads.push({ who: 'judged run', read: judged, whole: false });
  const problems = reads.flatMap(({ who, read, whole }) =>
    read === 'legacy' || sameProvenance(read.provenance, input.policy, whole)
      ? []
      : [`policy: the verdict names ${describe(input.policy)}, the ${who} read ${describe(read.provenance)}`],
  );
  // The same file may be read at another commit, but the commit the verdict names is one a run read at.
  if (
    !problems.length &&
    !reads.some(({ read }) => read === 'legacy' || sameProvenance(read.provenance, input.policy, true))
  )
    problems.push(`policy: the verdict names ${describe(input.policy)}, which no run read it as`);
  problems.push(...(await repoProblems(db, runs.own.tenantId, input.repo, reads)));
  if (judged === 'legacy') return { problems };
  problems.push(...missingGates(judged.policy, input.gates, spec));
  if (!sameRun) return { problems, fromRuns: new Set([runs.judged.runId]) };
  const [fromRuns, failuresFrom] = await Promise.all([
    runsThatRead(db, runs.judged, judged.provenance),
    runsThatRead(db, runs.judged, judged.provenance, true),
  ]);
  return { problems, fromRuns, failuresFrom };
}

/**
 * How the repository the verdict names is not the one whose policy the run (and the judged run)
 * read. A run of one's own can read the policy of any of the tenant's repositories: a laxer one's
 * would otherwise judge a change the verdict, and delivery, attribute to this one.
 */
async function repoProblems(
  db: Db,
  tenantId: string,
  repo: string,
  reads: ReadonlyArray<{ who: string; read: JudgingPolicy | 'legacy' }>,
): Promise<string[]> {
  const registered = (await findRepo(db, tenantId, repo))?.path;
  return reads.flatMap(({ who, read }) => {
    if (read === 'legacy' || read.repoPath === registered) return [];
    // A read stored before reads named their repository stands only for the run that made it.
    if (read.repoPath === null)
      return read.byThisRun ? [] : [`policy: the ${who} borrows a policy read that names no repository`];
    const named = registered ? `repository ${repo} (${registered})` : `repository ${repo}, which is not registered`;
    return [`policy: the verdict names ${named}, the ${who} read the policy of ${read.repoPath}`];
  });
}

const describe = (p: PolicyProvenance) => `${p.digest} at ${p.commit}`;
const sameProvenance = (a: PolicyProvenance, b: PolicyProvenance, whole: boolean) =>
  canonicalJson(whole ? a : policyFileOf(a)) === canonicalJson(whole ? b : policyFileOf(b));

/**
 * How the spec the verdict names differs from the one the run validated (a run that read its
 * policy stored one), or a judged candidate's run validated another spec than the task's.
 */
async function specProblem(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  ownPolicy: JudgingPolicy | 'legacy',
  record: Awaited<ReturnType<typeof validatedSpecRecord>>,
  input: { specId: string; specDigest: string; riskTier: number },
): Promise<string | undefined> {
  const { own, judged } = runs;
  if (!record) return ownPolicy === 'legacy' ? undefined : `run ${own.runId} validated no spec`;
  const { spec, sourceDigest } = record;
  if (spec.id !== input.specId || spec.riskTier !== input.riskTier)
    return `the verdict names ${input.specId} at tier ${input.riskTier}; the run validated ${spec.id} at tier ${spec.riskTier}`;
  // A spec stored before migration 0023 names no text.
  if (sourceDigest !== null && sourceDigest !== input.specDigest)
    return `the verdict names spec text ${input.specDigest}; the run validated ${sourceDigest}`;
  if (judged.taskId === own.taskId) return undefined;
  const candidate = await validatedSpec(db, judged);
  if (candidate && canonicalJson(candidate) === canonicalJson(spec)) return undefined;
  return `the judged run ${judged.runId} of ${judged.taskId} did not validate the task's spec`;
}

/**
 * How the patch the verdict names (its subject) is not one the task stored with that digest
 * ({@link storedPatchOf}), or the figures the verdict states are not the ones measured when it was
 * stored.
 */
async function patchProblem(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  diff: DiffSummary,
  baseCommit: string,
): Promise<string | undefined> {
  const row = await storedPatchOf(db, runs, diff);
  if (!row)
    return `patch ${diff.artifactId} (${diff.digest}) is not a patch the task ${runs.judged.taskId} stored with that digest`;
  // The verdict's subject is the patch and its gates judged the tree: both must be one change.
  // A patch stored before migration 0022 names neither.
  if (row.treeId === null && row.baseCommit === null) return undefined;
  if (row.treeId !== diff.treeId || row.baseCommit !== baseCommit)
    return `patch ${diff.artifactId} is the change from ${row.baseCommit} to tree ${row.treeId}, not from ${baseCommit} to ${diff.treeId}`;
  // The verdict states the change's measurement: the one made when the patch was stored (since migration 0024).
  const stated = describeStats(diff);
  if (row.stats && describeStats(row.stats) !== stated)
    return `patch ${diff.artifactId} measured ${describeStats(row.stats)}; the verdict states ${stated}`;
  return undefined;
}

/** The gates and earlier attempts of a verdict as it signs them: the record's. */
export interface RecordedEvidence {
  gates: Array<Omit<GateResult, 'outputTail'>>;
  attempts: AttemptRecord[];
}

/**
 * Refuses a verdict whose evidence is not the record's: the spec the run validated, the patch it
 * measured, the policy it read (with every gate that policy demands), the gate results its
 * activities stored, and the attempts before it. Returns the gates and attempts as stored.
 */
export async function assertVerdictEvidence(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  input: IssueVerdictInput,
): Promise<RecordedEvidence> {
  const [own, record] = await Promise.all([judgingPolicy(db, runs.own), validatedSpecRecord(db, runs.own)]);
  const misnamed = await specProblem(db, runs, own, record, input);
  if (misnamed) throw new RecordMismatchError('spec', misnamed);
  const unmeasured = await patchProblem(db, runs, input.diff, input.baseCommit);
  if (unmeasured) throw new RecordMismatchError('patch', unmeasured);
  const { problems, fromRuns, failuresFrom } = await policyProblems(db, runs, own, input, record?.spec);
  if (problems.length) throw new PolicyMismatchError(problems.join('; '));
  const change = { treeId: input.diff.treeId, baseCommit: input.baseCommit };
  const specDigest = record ? specContentDigest(record.spec) : undefined;
  const scope = { fromRuns, failuresFrom, specDigest };
  const forged = await storedGateProblems(db, runs.judged, change, input.gates, scope);
  if (forged.problems.length) throw new RecordMismatchError('gate results', forged.problems.join('; '));
  const attempts = await recordedAttempts(
    db,
    runs,
    input.diff.artifactId,
    input.attempts ?? [],
    isSameRun(runs) ? fromRuns : undefined,
  );
  return { gates: input.gates.map((g) => signedGate(g, forged.rows.get(g.name))), attempts };
}
