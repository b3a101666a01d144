/**
 * Best of N in the workflow: the task asks the router for N distinct agents, runs each as a
 * candidate (a child `taskLifecycle` run, `<taskId>.candidate-<k>`, with its own workspace,
 * retries, verification and signed verdict, and its own outcome for the router), then judges
 * them by what their runs stored and signed, takes the best one's change over and issues its own
 * verdict naming every candidate. Only that change is delivered. `first-pass` cancels the other
 * candidates as soon as one passes.
 */
import { CancellationScope, isCancellation, startChild } from '@temporalio/workflow';
import {
  candidateTaskId,
  MAX_ID_WITH_CANDIDATES,
  rankCandidates,
  withEvidence,
  type CandidateView,
} from '../domain/candidates';
import { NoCandidatePassedError } from '../domain/errors';
import { routingContextOf } from '../domain/routing-context';
import type { ParsedTaskInput, TaskSnapshot } from '../domain/task';
import { initialSearchAttributes, taskWorkflowId } from '../temporal-config';
import { adoptCandidate, assessCandidates, proposeAgents } from './activity-proxies';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';
import { recordVerdict } from './workspace-steps';
import { cancelsTask } from './failures';

/** Patch id of best of N: runs started before it never asked for candidates. */
export const BEST_OF_N_PATCH = 'best-of-n';

/** How many candidates the task runs: its own ask, else its policy's for its tier, else one; a candidate runs none. */
export function candidateCount(task: TaskRun, { spec }: RunSpec): number {
  const { candidateOf, candidates, taskId } = task.input;
  if (candidateOf) return 1;
  const n = candidates ?? task.trustedPolicy().policy.candidates?.[spec.riskTier] ?? 1;
  // A policy's count meets ids the input check never saw: too long to name candidates, the task runs as one.
  return taskId.length > MAX_ID_WITH_CANDIDATES ? 1 : n;
}

/** The input of candidate `index`: the task's own, for agent `agentId`, marked as its candidate. */
function candidateInput(input: ParsedTaskInput, index: number, agentId: string): ParsedTaskInput {
  const { candidates: _n, candidateMode: _mode, ...own } = input;
  return {
    ...own,
    taskId: candidateTaskId(input.taskId, index),
    agentHint: agentId,
    candidateOf: { taskId: input.taskId, index },
  };
}

/**
 * Runs every candidate to its end (or until one passes, in `first-pass`); returns the runs that
 * started. A candidate that could not start, or failed outright, is shown so and judged without a verdict.
 */
async function runCandidates(task: TaskRun, agents: string[]): Promise<Array<{ index: number; runId: string }>> {
  const firstPass = task.input.candidateMode === 'first-pass';
  const scopes = agents.map(() => new CancellationScope());
  const started: Array<{ index: number; runId: string }> = [];
  let passed = false;
  const one = async (agentId: string, i: number) => {
    const index = i + 1;
    const input = candidateInput(task.input, index, agentId);
    // A candidate's id runs once: a task reset to before its candidates cannot start them again
    // (they are judged as never started), so no candidate's verdict is ever issued twice.
    const child = await startChild('taskLifecycle', {
      workflowId: taskWorkflowId(input),
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: initialSearchAttributes(input.tenantId),
    });
    started.push({ index, runId: child.firstExecutionRunId });
    task.updateCandidate(index, { state: 'RUNNING', runId: child.firstExecutionRunId });
    const final = (await child.result()) as TaskSnapshot;
    task.updateCandidate(index, { state: final.state, ...(final.verdict ? { outcome: final.verdict.outcome } : {}) });
    if (firstPass && !passed && final.state === 'COMPLETED' && final.verdict?.outcome === 'PASS') {
      passed = true;
      scopes.forEach((scope, j) => j !== i && scope.cancel());
    }
  };
  await Promise.all(
    agents.map((agentId, i) =>
      scopes[i]
        .run(() => one(agentId, i))
        .catch((err: unknown) => {
          // The task's own cancellation ends it; a candidate stopped by first-pass, cancelled by
          // itself, or failed, is judged as it ended.
          if (isCancellation(err) && !passed && cancelsTask(err)) throw err;
          task.updateCandidate(i + 1, { state: isCancellation(err) ? 'CANCELLED' : 'FAILED' });
        }),
    ),
  );
  return started.sort((a, b) => a.index - b.index);
}

/**
 * ROUTED → EXECUTING (the candidates) → EXECUTION_COMPLETE → VERIFYING → VERIFIED on PASS; the
 * caller delivers. A task whose best candidate did not pass ends FAILED with that candidate's
 * change judged in its verdict, or without a verdict when no candidate reached one.
 */
export async function runBestOfN(task: TaskRun, validated: RunSpec, n: number): Promise<boolean> {
  const { tenantId, taskId } = task.input;
  const { spec } = validated;
  const { policy, provenance } = task.trustedPolicy();
  const context = routingContextOf(spec, policy, task.input.language);
  // An agent the submitter asked for runs every candidate; otherwise the router names N distinct ones.
  const { agentHint } = task.input;
  const agents = agentHint
    ? Array.from({ length: n }, () => agentHint)
    : await proposeAgents({ tenantId, taskId, taskType: spec.mode, context, count: n });
  const views: CandidateView[] = agents.map((agentId, i) => ({
    index: i + 1,
    taskId: candidateTaskId(taskId, i + 1),
    agentId,
    state: 'PENDING',
  }));
  task.showCandidates(views);
  await task.enter('ROUTED', `${n} candidates: ${agents.join(', ')}`);
  await task.enter('EXECUTING', `${n} candidates (${task.input.candidateMode ?? 'all'})`);
  const runs = await runCandidates(task, agents);
  await task.enter('EXECUTION_COMPLETE', `${runs.length} of ${n} candidates ran`);
  await task.enter('VERIFYING');
  const assessed = runs.length ? await assessCandidates({ tenantId, taskId, candidates: runs }) : [];
  const { ranked, reason } = rankCandidates(assessed);
  const judged = ranked.find((c) => c.verdict);
  task.showCandidates(
    views.map((v) => {
      const e = assessed.find((a) => a.index === v.index);
      return e ? withEvidence(v, e, e === judged) : v;
    }),
  );
  if (!judged) {
    await task.fail('FAILED', { type: NoCandidatePassedError.type, message: `no candidate passed: ${reason}` });
    return false;
  }
  const adopted = await adoptCandidate({
    tenantId,
    taskId,
    index: judged.index,
    runId: judged.runId,
    policyDigest: provenance.digest,
  });
  task.adoptCandidate(adopted, { assessed, reason }, { index: judged.index, runId: judged.runId });
  await recordVerdict(task, validated, adopted.agentId, { baseCommit: adopted.baseCommit });
  const outcome = task.snapshot.verdict?.outcome;
  if (outcome !== 'PASS' && outcome !== 'WAIVED') {
    await task.fail(
      'FAILED',
      { type: NoCandidatePassedError.type, message: `no candidate passed: ${reason}` },
      { verdict: 'FAIL' },
    );
    return false;
  }
  await task.enter('VERIFIED', `candidate ${judged.index} (${judged.agentId}) chosen: ${reason}`, { verdict: outcome });
  return true;
}
