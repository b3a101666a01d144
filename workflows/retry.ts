/**
 * Retry with feedback: when an attempt's blocking gates fail and the repository's policy allows
 * more attempts, the agent is asked again, told which gates failed and why, and its next change
 * is verified from scratch. Each attempt is its own EXECUTING → VERIFYING round in the task's
 * history, its gates kept in the snapshot, in PostgreSQL and in the verdict.
 */
import { cancelsTask } from './failures';
import { hasPatch } from './patches';
import { attemptsAllowed } from '../domain/repo-policy';
import { retryFeedback, worthRetrying } from '../domain/retry-feedback';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';
import { recordVerdict, retryAgent, verifyInWorkspace, type Workspace } from './workspace-steps';

/** Patch id of retrying with feedback: runs started before it fail at their first failing verification, as they did. */
export const RETRY_WITH_FEEDBACK_PATCH = 'retry-with-feedback';

/**
 * VERIFYING → EXECUTING → EXECUTION_COMPLETE → VERIFYING again, while the gates fail, another
 * attempt could pass them and attempts remain; returns the workspace of the last attempt,
 * verified (its gates may still fail).
 */
export async function retryWhileFailing(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  first: Workspace,
): Promise<Workspace> {
  const maxAttempts = attemptsAllowed(task.trustedPolicy().policy);
  let ws = first;
  while (task.attempt < maxAttempts && worthRetrying(task.snapshot.gates)) {
    if (!hasPatch(RETRY_WITH_FEEDBACK_PATCH)) break;
    ws = await nextAttempt(task, validated, agentId, ws, maxAttempts);
  }
  return ws;
}

/**
 * One retry. When its agent fails, the attempt before it keeps its signed FAIL verdict (the
 * failure then ends the task, as an agent's failure does).
 */
async function nextAttempt(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  ws: Workspace,
  maxAttempts: number,
): Promise<Workspace> {
  const attempt = task.attempt + 1;
  const { gates } = task.snapshot;
  const failed = gates.filter((g) => g.status === 'fail').map((g) => g.name);
  task.retryWith(retryFeedback({ attempt, maxAttempts, gates, acceptance: validated.spec.acceptance }));
  await task.enter('EXECUTING', `attempt ${attempt} of ${maxAttempts}: gate(s) failed: ${failed.join(', ')}`);
  let rerun: Awaited<ReturnType<typeof retryAgent>>;
  try {
    rerun = await retryAgent(task, validated, agentId, ws);
  } catch (err) {
    if (cancelsTask(err)) throw err;
    task.abandonRetry();
    await recordVerdict(task, validated, agentId, ws);
    throw err;
  }
  task.recordAgentRun(rerun.run);
  await task.enter('EXECUTION_COMPLETE', rerun.run.summary);
  await task.enter('VERIFYING', `attempt ${attempt}`);
  return verifyInWorkspace(task, validated, agentId, rerun.workspace);
}
