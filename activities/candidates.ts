/**
 * Best of N, the activities: `proposeAgents` ranks the capable agents for a task (the router's
 * ranking, domain/bandit.ts) and names N distinct ones; `assessCandidates` reads how each
 * candidate ended from what its own run stored and signed, never from what the workflow says;
 * `adoptCandidate` takes the winner's verified change over as the task's own (its patch copied
 * under the task's run), so the task's verdict and delivery work on it as on any change.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { log } from '@temporalio/activity';
import {
  AdoptCandidateInput,
  AssessCandidatesInput,
  ProposeAgentsInput,
  type AdoptedCandidate,
} from '../domain/activity-io';
import { hashSeed, rankArms } from '../domain/bandit';
import { candidateTaskId, warningsOf, type CandidateEvidence } from '../domain/candidates';
import { verdictEvidence } from '../domain/dsse';
import { NoCapableAgentError, RecordMismatchError } from '../domain/errors';
import { contextKey } from '../domain/routing-context';
import type { VerdictPayload } from '../domain/verdict';
import { loadArtifact, storePatch } from '../db/artifacts';
import type { Db } from '../db/client';
import { routingCandidates } from '../db/routing-candidates';
import { agentOutcomes, artifacts, taskEvents, tasks } from '../db/schema';
import { storedVerdict } from '../db/verdicts';
import { verifyEnvelope } from '../host/signing';
import { taskWorkflowId } from '../temporal-config';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { assess } from './routing-weigh';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';

type Who = { tenantId: string; taskId: string; runId: string };

/** The verdict `who` stored, its signature checked with the worker's key and its identity with `who`; undefined when none. */
async function verifiedVerdict(db: Db, keyId: string, who: Who) {
  const stored = await storedVerdict(db, who.tenantId, who.taskId, who.runId);
  if (!stored?.envelope) return undefined;
  const check = verifyEnvelope(stored.envelope, [keyId]);
  const payload = verdictEvidence(check.statement) as VerdictPayload | undefined;
  const problems = [
    ...check.problems,
    ...(check.statementDigest === stored.digest ? [] : ['its digest is not the signed statement’s']),
    ...(payload?.tenantId === who.tenantId && payload.taskId === who.taskId ? [] : ['it names another task']),
    ...(payload?.run.runId === who.runId && payload.run.workflowId === taskWorkflowId(who)
      ? []
      : ['it names another run']),
  ];
  if (problems.length || !payload)
    throw new RecordMismatchError('verdict', `candidate ${who.taskId} run ${who.runId}: ${problems.join('; ')}`);
  return { payload, digest: stored.digest };
}

/** The candidate's task row, which must be the run the task started for it. */
async function candidateRow(db: Db, who: Who) {
  const [row] = await db
    .select({ runId: tasks.runId, state: tasks.state, agentId: tasks.agentId })
    .from(tasks)
    .where(and(eq(tasks.tenantId, who.tenantId), eq(tasks.id, who.taskId)));
  if (!row || row.runId !== who.runId)
    throw new RecordMismatchError('candidate', `${who.taskId} is not recorded for run ${who.runId}`);
  return row;
}

/** Seconds from the candidate's first recorded transition to its last. */
async function secondsOf(db: Db, who: Who): Promise<number> {
  const [span] = await db
    .select({ first: sql<string>`min(${taskEvents.at})::text`, last: sql<string>`max(${taskEvents.at})::text` })
    .from(taskEvents)
    .where(ofRun(taskEvents, who));
  const ms = Date.parse(span?.last ?? '') - Date.parse(span?.first ?? '');
  return Number.isFinite(ms) ? ms / 1000 : 0;
}

/**
 * A candidate whose records do not hold (none for its run: it never began, or another run took its
 * id; a verdict that fails its checks) is judged as ended without a verdict, never taken at its word.
 */
export async function candidateEvidence(db: Db, keyId: string, who: Who, index: number): Promise<CandidateEvidence> {
  try {
    return await recordedEvidence(db, keyId, who, index);
  } catch (err) {
    if (!(err instanceof RecordMismatchError)) throw err;
    log.warn('candidate judged without a verdict', { candidate: who.taskId, runId: who.runId, why: err.message });
    const unproven = { index, taskId: who.taskId, runId: who.runId, agentId: '', state: 'UNPROVEN' };
    return { ...unproven, tokens: 0, costUsd: 0, seconds: 0 };
  }
}

/** The rows of `table` that one candidate run recorded. */
function ofRun(table: { tenantId: AnyPgColumn; taskId: AnyPgColumn; runId: AnyPgColumn }, who: Who) {
  return and(eq(table.tenantId, who.tenantId), eq(table.taskId, who.taskId), eq(table.runId, who.runId));
}

/** A pass counts only for a run that ended COMPLETED: one cancelled or stopped after its verdict was signed did not pass. */
function stands(outcome: VerdictPayload['outcome'], state: string): boolean {
  return outcome === 'FAIL' || state === 'COMPLETED';
}

async function recordedEvidence(db: Db, keyId: string, who: Who, index: number): Promise<CandidateEvidence> {
  const row = await candidateRow(db, who);
  const verdict = await verifiedVerdict(db, keyId, who);
  const [usage] = await db
    .select({ tokens: agentOutcomes.tokens, costUsd: agentOutcomes.costUsd })
    .from(agentOutcomes)
    .where(ofRun(agentOutcomes, who));
  const p = verdict && stands(verdict.payload.outcome, row.state) ? verdict.payload : undefined;
  return {
    index,
    taskId: who.taskId,
    runId: who.runId,
    agentId: p?.agentId ?? row.agentId ?? '',
    state: row.state,
    ...(p && verdict
      ? {
          verdict: {
            outcome: p.outcome,
            digest: verdict.digest,
            diffDigest: p.diff.digest,
            filesChanged: p.diff.filesChanged,
            linesChanged: p.diff.linesAdded + p.diff.linesDeleted,
            warnings: warningsOf(p.gates),
          },
        }
      : {}),
    tokens: usage?.tokens ?? 0,
    costUsd: usage?.costUsd ?? 0,
    seconds: await secondsOf(db, who),
  };
}

/** Builds `proposeAgents`, `assessCandidates` and `adoptCandidate`. */
export function createCandidateActivities({ db, signer }: ActivityDeps) {
  return {
    async proposeAgents(raw: ProposeAgentsInput): Promise<string[]> {
      const input = parseActivityInput(ProposeAgentsInput, raw);
      const now = new Date();
      // Capable as routing judges it, capacity aside: a busy agent's candidate waits for room.
      const capable = (await routingCandidates(db, input.tenantId, input.taskType, contextKey(input.context))).filter(
        ({ agent }) => assess(agent, input.taskType, 0, now).eligible,
      );
      if (capable.length === 0)
        throw new NoCapableAgentError(`no capable agent for task type '${input.taskType}' to run candidates`);
      const arms = capable.map((c) => ({
        agentId: c.agent.id,
        type: { successes: c.successes, failures: c.failures },
        context: c.context,
        running: c.running,
      }));
      const ranked = rankArms(arms, hashSeed(`${input.tenantId}/${input.taskId}`)).map((s) => s.agentId);
      return Array.from({ length: input.count }, (_, i) => ranked[i % ranked.length]);
    },

    async assessCandidates(raw: AssessCandidatesInput): Promise<CandidateEvidence[]> {
      const input = parseActivityInput(AssessCandidatesInput, raw);
      return Promise.all(
        input.candidates.map(({ index, runId }) =>
          candidateEvidence(
            db,
            signer.keyId,
            { tenantId: input.tenantId, taskId: candidateTaskId(input.taskId, index), runId },
            index,
          ),
        ),
      );
    },

    async adoptCandidate(raw: AdoptCandidateInput): Promise<AdoptedCandidate> {
      const input = parseActivityInput(AdoptCandidateInput, raw);
      await requireOwnTask(db, input, currentRun(), { open: true });
      const who = { tenantId: input.tenantId, taskId: candidateTaskId(input.taskId, input.index), runId: input.runId };
      const row = await candidateRow(db, who);
      const verdict = await verifiedVerdict(db, signer.keyId, who);
      if (!verdict)
        throw new RecordMismatchError('candidate', `${who.taskId} run ${who.runId} has no verdict to adopt`);
      const { payload } = verdict;
      if (!stands(payload.outcome, row.state))
        throw new RecordMismatchError(
          'candidate',
          `${who.taskId} ended ${row.state}: its ${payload.outcome} does not stand`,
        );
      if (payload.policy.digest !== input.policyDigest)
        throw new RecordMismatchError(
          'candidate',
          `${who.taskId} was judged by policy ${payload.policy.digest}, not ${input.policyDigest}`,
        );
      const [patch] = await db
        .select({ id: artifacts.id, stats: artifacts.stats })
        .from(artifacts)
        .where(and(ofRun(artifacts, who), eq(artifacts.kind, 'patch'), eq(artifacts.digest, payload.diff.digest)))
        .orderBy(asc(artifacts.id));
      if (!patch) throw new RecordMismatchError('candidate', `${who.taskId}'s verified patch is not stored`);
      const bytes = await loadArtifact(db, patch.id, payload.diff.digest, { ...who, kind: 'patch' });
      const { runId } = currentRun();
      const { diff } = payload;
      const change = { treeId: diff.treeId, baseCommit: payload.baseCommit };
      // The candidate's measurement comes with its patch; one stored before measurements were has none.
      const { artifactId, digest } = await storePatch(db, { ...input, runId, bytes, change, stats: patch.stats });
      return {
        agentId: payload.agentId,
        baseCommit: payload.baseCommit,
        diff: { ...diff, digest, artifactId, leftBehind: { count: 0, paths: [] }, nestedRepositories: [] },
        gates: payload.gates,
        verdictDigest: verdict.digest,
      };
    },
  };
}
