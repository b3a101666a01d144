/**
 * `issueVerdict`: computes the verdict from the gate evidence, signs it as an in-toto
 * statement (a SLSA verification summary) in a DSSE envelope (ed25519), and stores it once per
 * run. Its time is when the step was scheduled and ed25519 signatures are deterministic, so a retry
 * in the same run computes the identical statement and finds it stored; a stored verdict that
 * differs is refused, never returned in place of this one.
 */
import { randomUUID } from 'node:crypto';
import { Context, log } from '@temporalio/activity';
import { IssueVerdictInput, type IssuedVerdict } from '../domain/activity-io';
import { candidateTaskId } from '../domain/candidates';
import { verdictStatement } from '../domain/dsse';
import { RecordMismatchError, UnverifiableVerdictError, WaiverNoLongerStandsError } from '../domain/errors';
import { storableValue } from '../domain/bounds';
import { buildVerdictPayload } from '../domain/verdict';
import { statementProblems } from '../domain/vsa-checks';
import { verdicts } from '../db/schema';
import { verifierFacts } from '../host/verifier';
import type { Db } from '../db/client';
import type { RunKey } from '../db/run-policies';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';
import { assertVerdictEvidence } from './verdict-evidence';
import { recordedCandidates } from './verdict-history';
import { recordRunEvent } from '../db/provenance';
import { checkpointAfterVerdict } from './provenance-checkpoint';
import { storedVerdict } from '../db/verdicts';
import { waiversForTree, waiversUsedBy } from '../db/waivers';
import { gatewaySummary } from '../db/model-calls';
import { requireJudgedRunsAgent } from './routed-agent';
import { requireOwnTask } from './task-ended';
import { storedWaivers, waiversNotStanding } from '../db/waiver-standing';

/** Builds the `issueVerdict` activity. */
export function createVerdictActivities({ db, signer }: ActivityDeps) {
  return {
    async issueVerdict(raw: IssueVerdictInput): Promise<IssuedVerdict> {
      const input = parseActivityInput(IssueVerdictInput, raw);
      const run = currentRun();
      await requireOwnTask(db, input, run, { open: true });
      const judged = input.adoptedFrom
        ? {
            tenantId: input.tenantId,
            taskId: candidateTaskId(input.taskId, input.adoptedFrom.index),
            runId: input.adoptedFrom.runId,
          }
        : { tenantId: input.tenantId, taskId: input.taskId, runId: run.runId };
      // Every waiver this run used (the desk's, and any a spec named), with the signed approvals that
      // grant it; for a best-of-N task, those its judged candidate's run used.
      const used = [
        ...(await waiversUsedBy(db, input.tenantId, input.taskId, run.runId)),
        ...(input.adoptedFrom ? await waiversUsedBy(db, judged.tenantId, judged.taskId, judged.runId) : []),
      ];
      await refuseWaivedForAnotherRun(db, judged, run.runId, input.diff.treeId);
      const lapsed = await waiversNotStanding(db, input.tenantId, [
        ...used,
        ...(await storedWaivers(db, input.tenantId, input.waivers)),
      ]);
      if (lapsed.length)
        throw new WaiverNoLongerStandsError(`the change's waivers no longer stand: ${lapsed.join('; ')}`);
      const own = { tenantId: input.tenantId, taskId: input.taskId, runId: run.runId };
      const recorded = await assertVerdictEvidence(db, { own, judged }, input);
      const candidates = await recordedCandidates(db, signer.keyId, input);
      // The verdict names the agent as accountable for the change: the one routing chose for it.
      await requireJudgedRunsAgent(db, { ...judged, agentId: input.agentId });
      const waivers = [...new Set([...input.waivers, ...used.map((w) => w.id)])];
      const gateway = await gatewaySummary(db, input.tenantId, input.taskId, run.runId);
      // Stored as signed: a gate's argv or detail may quote a NUL a submitter wrote.
      const approvals = used.flatMap((w) => w.approvals);
      const payload = storableValue(
        buildVerdictPayload({ ...input, ...recorded, candidates, run, waivers, approvals, gateway }),
      );
      // The digest names the exact signed statement bytes; the envelope text is stored verbatim.
      const statement = verdictStatement({ ...input, verifiedAt: scheduledAt(), payload, verifier: verifierFacts() });
      // What the worker signs, its own readers (delivery, `verdict verify`) must accept.
      const faults = statementProblems(statement);
      if (faults.length) throw new UnverifiableVerdictError(faults);
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

/**
 * When the verdict was verified: when its workflow scheduled this step, as the server recorded it.
 * Every attempt of the step signs the same time, and no workflow chooses it (a time handed over
 * could be years ahead, passing any verifier's freshness check for as long).
 */
function scheduledAt(): string {
  return new Date(Context.current().info.scheduledTimestampMs).toISOString();
}

/**
 * Refuses a verdict on a tree whose budget a waiver passed for another run. Storing a waiver
 * passes the budget rows of the tree its approvals name, whichever run stored them: a run that
 * took the task over (a reset, or a run of one's own) judged on those rows would sign the waived
 * change as a plain PASS, and its verdict cannot carry approvals that name another run.
 */
async function refuseWaivedForAnotherRun(db: Db, judged: RunKey, runId: string, treeId: string): Promise<void> {
  const foreign = (await waiversForTree(db, judged.tenantId, judged.taskId, treeId)).filter(
    (w) => w.usedByRun !== judged.runId && w.usedByRun !== runId,
  );
  if (foreign.length)
    throw new RecordMismatchError(
      'waiver',
      `${foreign.map((w) => `${w.id} (run ${w.usedByRun})`).join(', ')} waived this change's budget for another run than ${runId}`,
    );
}
