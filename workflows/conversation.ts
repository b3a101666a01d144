/**
 * An `openai` agent run as a durable loop: every model turn and every tool call is its own
 * activity, the transcript stays in PostgreSQL (history holds ids and small summaries), and the
 * run stops at the agent's limits on turns, tokens and wall-clock time. The transcript is this
 * run's: its id names the run, so another run of the task never finds or continues it.
 */
import { log, workflowInfo } from '@temporalio/workflow';
import type { AgentRunResult, PreparedWorkspace, ValidateSpecResult } from '../domain/activity-io';
import { AgentFailedError } from '../domain/errors';
import { callModel, onHost, startConversation } from './activity-proxies';
import type { TaskRun } from './task-run';

/** Runs the conversation in `ws` until the model answers without tool calls. */
export async function runConversation(
  task: TaskRun,
  validated: ValidateSpecResult,
  agentId: string,
  ws: PreparedWorkspace,
  attempt: number,
): Promise<AgentRunResult> {
  const { tenantId, taskId } = task.input;
  const conversationId = `${tenantId}/${taskId}/${workflowInfo().runId}/${attempt}`;
  const limits = await startConversation({ tenantId, taskId, agentId, conversationId, spec: validated.spec });
  const host = onHost(ws.hostQueue, `${task.input.hostLossTimeoutSeconds}s`);
  const started = Date.now();
  let tokens = 0;
  let costUsd = 0;
  for (let turn = 1; turn <= limits.maxTurns; turn++) {
    if (Date.now() - started > limits.maxWallClockSeconds * 1000)
      throw new AgentFailedError(agentId, `ran past its wall-clock limit of ${limits.maxWallClockSeconds}s`);
    task.setSubState(`agent turn ${turn}`);
    const reply = await callModel({ tenantId, taskId, agentId, conversationId, turn });
    tokens += reply.promptTokens + reply.completionTokens;
    costUsd += reply.costUsd;
    task.recordUsage({ tokens, costUsd });
    if (tokens > limits.maxTokens)
      throw new AgentFailedError(agentId, `used ${tokens} tokens, over its limit of ${limits.maxTokens}`);
    if (reply.toolCalls.length === 0) {
      task.setSubState(null);
      return {
        agentId,
        stepsApplied: turn,
        summary: `conversation ended after ${turn} turn(s): ${reply.summary.slice(0, 200)}`,
        tokens,
        costUsd,
      };
    }
    for (const call of reply.toolCalls) {
      const result = await host.runToolCall({
        tenantId,
        taskId,
        conversationId,
        callId: call.id,
        name: call.name,
        arguments: call.arguments,
        workspacePath: ws.workspacePath,
        spec: validated.spec,
      });
      if (result.violation) task.addViolation(result.violation);
      if (!result.ok)
        log.info('tool call refused or failed; the model sees why', { tool: call.name, summary: result.summary });
    }
  }
  throw new AgentFailedError(agentId, `gave no final answer within ${limits.maxTurns} turns`);
}
