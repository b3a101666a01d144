/**
 * `issueVerdict`: computes the verdict from the gate evidence, signs it as an in-toto
 * statement (a SLSA verification summary) in a DSSE envelope (ed25519), and stores it once per
 * run. Its time comes from the workflow and ed25519 signatures are deterministic, so a retry in
 * the same run computes the identical statement and finds it stored; a stored verdict that
 * differs is refused, never returned in place of this one.
 */
import { randomUUID } from 'node:crypto';
import { log } from '@temporalio/activity';
import { IssueVerdictInput, type IssuedVerdict, type PolicyProvenance } from '../domain/activity-io';
import { canonicalJson } from '../domain/canonical';
import { missingGates } from '../domain/policy-gates';
import { candidateTaskId } from '../domain/candidates';
import { verdictStatement } from '../domain/dsse';
import { PolicyMismatchError, RecordMismatchError } from '../domain/errors';
import { buildVerdictPayload } from '../domain/verdict';
import type { Db } from '../db/client';
import { verdicts } from '../db/schema';
import { hasTreelessGateResults, latestGateResults } from '../db/gate-results';
import type { GateResult } from '../domain/task';
import { verifierFacts } from '../host/verifier';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { judgingPolicy } from './repo-policy';
import { validatedSpec } from './spec-refs';
import { currentRun } from './run-identity';
import { recordRunEvent } from '../db/provenance';
import { checkpointAfterVerdict } from './provenance-checkpoint';
import { storedVerdict } from '../db/verdicts';
import { runsThatRead, type RunKey } from '../db/run-policies';
import { waiversUsedBy } from '../db/waivers';
import { gatewaySummary } from '../db/model-calls';

/**
 * How the gates a verdict is asked to sign differ from the results stored for the tree it judges.
 * The workflow hands over the gates as activities returned them, and anyone who may write to the
 * namespace can complete an activity by its id with a result of their choosing (`temporal activity
 * complete`): a failed gate reported passed, a failing check left out. The stored rows are written
 * by the activities themselves, on a worker, naming the tree (a waiver granted for the tree passes
 * its budget row); a run reset past verification finds its predecessor's, among `fromRuns`.
 */
async function storedGateProblems(
  db: Db,
  judged: { tenantId: string; taskId: string; runId: string },
  treeId: string,
  gates: readonly GateResult[],
  fromRuns?: ReadonlySet<string>,
): Promise<string[]> {
  if (gates.length === 0) return [];
  const stored = await latestGateResults(db, judged, treeId, fromRuns);
  if (stored.size === 0 && (await hasTreelessGateResults(db, judged))) return [];
  const problems = gates.flatMap((g) => {
    const row = stored.get(g.name);
    if (!row) return [`gate ${g.name}: no result of it was stored for tree ${treeId}`];
    if (row.kind === g.kind && row.status === g.status) return [];
    return [`gate ${g.name}: stored as ${row.kind} ${row.status}, handed over as ${g.kind} ${g.status}`];
  });
  const named = new Set(gates.map((g) => g.name));
  for (const [name, row] of stored)
    if (!named.has(name)) problems.push(`gate ${name}: stored as ${row.status}, left out`);
  return problems;
}

/**
 * How the verdict's policy and gates differ from what was read from the repository: the policy it
 * names must be the one the run read and the one the judged run read (a best-of-N task judges a
 * candidate's run), and hold Arbiter's gates and the policy's commands. Also the runs whose stored
 * gate results may stand in for the judged run's (a reset past verification): those that read the
 * same policy. With {@link storedGateProblems}, every gate the policy demands was run by the
 * judged run's own activities, or by a predecessor's under the same policy.
 */
async function policyProblems(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  input: { policy: PolicyProvenance; gates: readonly GateResult[] },
): Promise<{ problems: string[]; fromRuns?: Set<string> }> {
  const sameRun = runs.own.taskId === runs.judged.taskId && runs.own.runId === runs.judged.runId;
  const own = await judgingPolicy(db, runs.own);
  const judged = sameRun ? own : await judgingPolicy(db, runs.judged);
  const reads = sameRun ? { run: own } : { run: own, 'judged run': judged };
  const problems = Object.entries(reads).flatMap(([who, read]) =>
    read === 'legacy' || canonicalJson(read.provenance) === canonicalJson(input.policy)
      ? []
      : [
          `policy: the verdict names ${input.policy.digest} at ${input.policy.commit}, the ${who} read ${read.provenance.digest} at ${read.provenance.commit}`,
        ],
  );
  if (judged === 'legacy') return { problems };
  problems.push(...missingGates(judged.policy, input.gates));
  return { problems, fromRuns: await runsThatRead(db, runs.judged, judged.provenance) };
}

/** How the spec the verdict names differs from the one the run validated (a run that read its policy stored one). */
async function specProblem(
  db: Db,
  own: RunKey,
  input: { specId: string; riskTier: number },
): Promise<string | undefined> {
  const spec = await validatedSpec(db, own);
  if (!spec) return (await judgingPolicy(db, own)) === 'legacy' ? undefined : `run ${own.runId} validated no spec`;
  if (spec.id === input.specId && spec.riskTier === input.riskTier) return undefined;
  return `the verdict names ${input.specId} at tier ${input.riskTier}; the run validated ${spec.id} at tier ${spec.riskTier}`;
}

/** Builds the `issueVerdict` activity. */
export function createVerdictActivities({ db, signer }: ActivityDeps) {
  return {
    async issueVerdict(raw: IssueVerdictInput): Promise<IssuedVerdict> {
      const input = parseActivityInput(IssueVerdictInput, raw);
      const run = currentRun();
      // Every waiver this run used (the desk's, and any a spec named), with the signed approvals that
      // grant it; for a best-of-N task, those its judged candidate's run used.
      const used = [
        ...(await waiversUsedBy(db, input.tenantId, input.taskId, run.runId)),
        ...(input.adoptedFrom
          ? await waiversUsedBy(
              db,
              input.tenantId,
              candidateTaskId(input.taskId, input.adoptedFrom.index),
              input.adoptedFrom.runId,
            )
          : []),
      ];
      const judged = input.adoptedFrom
        ? {
            tenantId: input.tenantId,
            taskId: candidateTaskId(input.taskId, input.adoptedFrom.index),
            runId: input.adoptedFrom.runId,
          }
        : { tenantId: input.tenantId, taskId: input.taskId, runId: run.runId };
      const own = { tenantId: input.tenantId, taskId: input.taskId, runId: run.runId };
      const misnamed = await specProblem(db, own, input);
      if (misnamed) throw new RecordMismatchError('spec', misnamed);
      const { problems, fromRuns } = await policyProblems(db, { own, judged }, input);
      if (problems.length) throw new PolicyMismatchError(problems.join('; '));
      const forged = await storedGateProblems(db, judged, input.diff.treeId, input.gates, fromRuns);
      if (forged.length) throw new RecordMismatchError('gate results', forged.join('; '));
      const waivers = [...new Set([...input.waivers, ...used.map((w) => w.id)])];
      const gateway = await gatewaySummary(db, input.tenantId, input.taskId, run.runId);
      const payload = buildVerdictPayload({
        ...input,
        run,
        waivers,
        approvals: used.flatMap((w) => w.approvals),
        gateway,
      });
      // The digest names the exact signed statement bytes; the envelope text is stored verbatim.
      const statement = verdictStatement({ ...input, payload, verifier: verifierFacts() });
      const { envelope, statementDigest: digest } = signer.signStatement(statement);
      await db
        .insert(verdicts)
        .values({
          id: randomUUID(),
          tenantId: input.tenantId,
          taskId: input.taskId,
          runId: run.runId,
          outcome: payload.outcome,
          digest,
          payload,
          envelope,
        })
        .onConflictDoNothing();
      const stored = await storedVerdict(db, input.tenantId, input.taskId, run.runId);
      if (!stored) throw new RecordMismatchError('verdict', `none is stored for run ${run.runId} after inserting it`);
      if (stored.digest !== digest)
        throw new RecordMismatchError(
          'verdict',
          `run ${run.runId} already has verdict ${stored.digest} (${stored.outcome}), not ${digest} (${payload.outcome}) computed now`,
        );
      await recordRunEvent(db, { ...input, runId: run.runId }, 'verdict', 'verdict.issued', {
        outcome: stored.outcome,
        digest: stored.digest,
        keyId: signer.keyId,
        runId: run.runId,
      });
      await checkpointAfterVerdict(db, signer, input.tenantId);
      log.info('verdict issued', { outcome: stored.outcome, digest: stored.digest });
      return { verdictId: stored.id, outcome: stored.outcome, digest: stored.digest };
    },
  };
}
