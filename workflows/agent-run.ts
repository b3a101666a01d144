/**
 * The routed agent's run in a task's workspace, and what of its failure counts against the agent.
 */
import { ChildWorkflowFailure, isCancellation, TerminatedFailure } from '@temporalio/workflow';
import type { AgentRunResult, PreparedWorkspace } from '../domain/activity-io';
import { isHostLostBeforeStart, onHost } from './activity-proxies';
import { runConversation } from './conversation';
import { hasOwnPatch } from './patches';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';

/** The workspace steps on `ws`'s host, which count it lost after the task's `hostLossTimeoutSeconds`. */
export function hostSteps(task: TaskRun, ws: PreparedWorkspace) {
  return onHost(ws.hostQueue, `${task.input.hostLossTimeoutSeconds}s`);
}

/**
 * The routed agent's run in `ws`: a conversation in the workflow for `openai` agents, one host
 * activity otherwise. On a retry the agent gets the feedback, and starts from the failed change
 * when `ws` is the workspace that holds it.
 */
export async function runAgentIn(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  ws: PreparedWorkspace,
): Promise<AgentRunResult> {
  const started = Date.now();
  try {
    if (task.agentKind === 'openai') return await runConversation(task, validated, agentId, ws, task.workspaceAttempt);
    return await executeAgentIn(task, validated, agentId, ws);
  } catch (err) {
    if (!isCancellation(err) && !terminatedChild(err) && !lostItsHost(err)) task.noteAgentRunFailed();
    throw err;
  } finally {
    task.addAgentTime(Date.now() - started);
  }
}

/**
 * No worker of the workspace's host ever took the step up (the host gone, or busy): the agent never
 * ran. Counted against it, a submitter's `hostLossTimeoutSeconds: 1` on a busy host would open the
 * agent's circuit for every task of its tenant. A host lost under a run that started still counts, or
 * an agent that brings its host down would never be charged for it.
 */
function lostItsHost(err: unknown): boolean {
  return isHostLostBeforeStart(err) && hasOwnPatch('host-loss-not-agent-failure');
}

/** A conversation child ended by `temporal workflow terminate`: someone's act, not the agent's failure. */
function terminatedChild(err: unknown): boolean {
  return err instanceof ChildWorkflowFailure && err.cause instanceof TerminatedFailure;
}

async function executeAgentIn(task: TaskRun, validated: RunSpec, agentId: string, ws: PreparedWorkspace) {
  const { tenantId, taskId } = task.input;
  const retry = task.retry;
  const sameWorkspace = retry?.workspace === task.workspaceAttempt;
  return hostSteps(task, ws).executeAgent(task.agentRunSeconds)({
    tenantId,
    taskId,
    agentId,
    workspacePath: ws.workspacePath,
    baseCommit: ws.baseCommit,
    spec: await validated.forActivity(),
    ...(retry
      ? {
          retry: {
            attempt: retry.attempt,
            feedback: retry.feedback,
            startedAt: task.agentClockStart,
            ...(sameWorkspace && retry.fromTree ? { fromTree: retry.fromTree } : {}),
          },
        }
      : {}),
  });
}
