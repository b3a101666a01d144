/**
 * Retry with feedback: when an attempt's blocking gates fail and the repository's policy allows
 * more attempts, the agent is asked again, told which gates failed and why, and its next change
 * is verified from scratch. Each attempt is its own EXECUTING → VERIFYING round in the task's
 * history, its gates kept in the snapshot, in PostgreSQL and in the verdict.
 */
import { patched } from '@temporalio/workflow';
import { attemptsAllowed } from '../domain/repo-policy';
import { fixableFailures, retryFeedback } from '../domain/retry-feedback';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';
import { retryAgent, verifyInWorkspace, type Workspace } from './workspace-steps';

/** Patch id of retrying with feedback: runs started before it fail at their first failing verification, as they did. */
export const RETRY_WITH_FEEDBACK_PATCH = 'retry-with-feedback';

/**
 * VERIFYING → EXECUTING → EXECUTION_COMPLETE → VERIFYING again, while the gates fail and attempts
 * remain; returns the workspace of the last attempt, verified (its gates may still fail).
 */
export async function retryWhileFailing(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  first: Workspace,
): Promise<Workspace> {
  const maxAttempts = attemptsAllowed(task.trustedPolicy().policy);
  let ws = first;
  while (task.attempt < maxAttempts) {
    const failed = fixableFailures(task.snapshot.gates);
    if (failed.length === 0 || !patched(RETRY_WITH_FEEDBACK_PATCH)) break;
    const attempt = task.attempt + 1;
    const feedback = retryFeedback({
      attempt,
      maxAttempts,
      gates: task.snapshot.gates,
      acceptance: validated.spec.acceptance,
    });
    if (!feedback) break;
    task.retryWith(feedback);
    const names = failed.map((g) => g.name).join(', ');
    await task.enter('EXECUTING', `attempt ${attempt} of ${maxAttempts}: gate(s) failed: ${names}`);
    const { workspace, run } = await retryAgent(task, validated, agentId, ws);
    task.recordAgentRun(run);
    await task.enter('EXECUTION_COMPLETE', run.summary);
    await task.enter('VERIFYING', `attempt ${attempt}`);
    ws = await verifyInWorkspace(task, validated, agentId, workspace);
  }
  return ws;
}
