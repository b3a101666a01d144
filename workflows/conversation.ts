/**
 * An `openai` agent run as a durable loop: every model turn and every tool call is its own
 * activity, the transcript stays in PostgreSQL (history holds ids, small summaries and digests),
 * and the run stops at the agent's limits on turns, tokens and wall-clock time. The transcript is
 * this run's: its id names the run, so another run of the task never finds or continues it.
 * Runs started on this code hold the loop in a child workflow that continues as new when its
 * history grows ({@link ./agent-conversation}); older runs keep it inline, as they recorded it.
 */
import { ApplicationFailure, ChildWorkflowFailure, executeChild, log, workflowInfo } from '@temporalio/workflow';
import { hasOwnPatch, hasPatch } from './patches';
import type { AgentRunResult, ConversationLimits, PreparedWorkspace, SpecRef } from '../domain/activity-io';
import type { AgentConversationInput, AgentConversationWorkflow, ConversationState } from '../domain/conversation';
import { AgentFailedError } from '../domain/errors';
import type { PolicyViolation } from '../domain/sandbox';
import type { WorkingSpec } from '../domain/spec';
import { conversationWorkflowId } from '../temporal-config';
import { callModel, onHost, recordRunIdLocally, startConversation } from './activity-proxies';
import type { RunSpec } from './run-spec';
import type { TaskRun } from './task-run';

/** The conversation a loop drives, and where its tool calls run. */
export interface ConversationTarget {
  tenantId: string;
  taskId: string;
  agentId: string;
  conversationId: string;
  workspacePath: string;
  hostQueue: string;
  hostLossTimeoutSeconds: number;
}

/** What the loop reports as it goes; `beforeTurn` may end the run (continue as new) between turns. */
export interface TurnHooks {
  beforeTurn?(state: ConversationState): Promise<void>;
  onTurn?(turn: number): void;
  onUsage?(usage: { tokens: number; costUsd: number }): void;
  onViolation(violation: PolicyViolation): void;
}

/** Runs turns from `state` until the model answers without tool calls, or a limit is passed. */
export async function converse(
  t: ConversationTarget,
  limits: ConversationLimits,
  spec: SpecRef | WorkingSpec,
  state: ConversationState,
  hooks: TurnHooks,
): Promise<AgentRunResult> {
  const { tenantId, taskId, agentId, conversationId } = t;
  const host = onHost(t.hostQueue, `${t.hostLossTimeoutSeconds}s`);
  let { tokens, costUsd } = state;
  for (let turn = state.turn + 1; turn <= limits.maxTurns; turn++) {
    await hooks.beforeTurn?.({ turn: turn - 1, tokens, costUsd, startedAt: state.startedAt });
    if (Date.now() - state.startedAt > limits.maxWallClockSeconds * 1000)
      throw new AgentFailedError(agentId, `ran past its wall-clock limit of ${limits.maxWallClockSeconds}s`, {
        tokens,
        costUsd,
      });
    hooks.onTurn?.(turn);
    const agentClockStart = state.startedAt;
    const reply = await callModel({ tenantId, taskId, agentId, conversationId, turn, agentClockStart });
    tokens += reply.promptTokens + reply.completionTokens;
    costUsd += reply.costUsd;
    hooks.onUsage?.({ tokens, costUsd });
    if (tokens > limits.maxTokens)
      throw new AgentFailedError(agentId, `used ${tokens} tokens, over its limit of ${limits.maxTokens}`, {
        tokens,
        costUsd,
      });
    if (reply.toolCalls.length === 0) {
      const summary = `conversation ended after ${turn} turn(s): ${reply.summary.slice(0, 200)}`;
      return { agentId, stepsApplied: turn, summary, tokens, costUsd };
    }
    for (const call of reply.toolCalls) {
      const { workspacePath } = t;
      const result = await host.runToolCall({
        tenantId,
        taskId,
        conversationId,
        turn,
        callId: call.id,
        workspacePath,
        spec,
        agentClockStart,
      });
      if (result.violation) hooks.onViolation(result.violation);
      if (!result.ok)
        log.info('tool call refused or failed; the model sees why', { tool: call.name, summary: result.summary });
    }
  }
  throw new AgentFailedError(agentId, `gave no final answer within ${limits.maxTurns} turns`, { tokens, costUsd });
}

/** Runs the conversation in `ws`: in a child workflow on this code, inline in runs recorded before it. */
export async function runConversation(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  ws: PreparedWorkspace,
  attempt: number,
): Promise<AgentRunResult> {
  const { tenantId, taskId, hostLossTimeoutSeconds } = task.input;
  const child = hasPatch('conversation-child-workflow');
  const runId = child ? await startingRunId(task) : workflowInfo().runId;
  const conversationId = `${tenantId}/${taskId}/${runId}/${attempt}`;
  const { workspacePath, hostQueue } = ws;
  const target = { tenantId, taskId, agentId, conversationId, hostLossTimeoutSeconds, workspacePath, hostQueue };
  if (!child) return runInline(task, validated, target);
  const before = task.nameConversation(attempt, runId);
  const followUp = followUpOf(task, attempt, before === undefined || before === runId);
  const workflowId = conversationWorkflowId(conversationId, followUp?.attempt);
  task.setSubState(`agent conversation ${workflowId}`);
  const { run, violations } = await executeChild<AgentConversationWorkflow>('agentConversation', {
    workflowId,
    args: [{ ...target, spec: await validated.forActivity(), ...(followUp ? { followUp } : {}) }],
  }).catch((err: unknown) => {
    const usage = usageOfFailedAgent(err);
    if (usage) task.recordUsage(usage);
    throw err;
  });
  violations.forEach((v) => task.addViolation(v));
  task.setSubState(null);
  return run;
}

/**
 * The run a conversation child is named after: the one that started it. A run reset past the
 * child's start replays that start, and a name built from its own id no longer matches the one
 * recorded, so every workflow task failed; the name is read from history since the patch.
 */
async function startingRunId(task: TaskRun): Promise<string> {
  if (!hasOwnPatch('conversation-named-in-history')) return workflowInfo().runId;
  const { tenantId, taskId } = task.input;
  return (await recordRunIdLocally({ tenantId, taskId })).runId;
}

/**
 * A retry's follow-up: the feedback as a new user turn of the same conversation when the
 * workspace is the one the failed attempt changed and the conversation keeps its name (`sameName`:
 * a reset run's retry names it after itself), else of a new one; usage and wall-clock time carry
 * over either way.
 */
function followUpOf(task: TaskRun, workspaceAttempt: number, sameName: boolean): AgentConversationInput['followUp'] {
  const retry = task.retry;
  if (!retry) return undefined;
  const sameConversation = retry.workspace === workspaceAttempt && sameName;
  return {
    attempt: retry.attempt,
    feedback: retry.feedback,
    after: {
      turn: sameConversation ? retry.turnsBefore : 0,
      tokens: task.usage.tokens,
      costUsd: task.usage.costUsd,
      startedAt: task.agentClockStart,
    },
  };
}

/** The loop in the task's own history, as runs started before the child workflow recorded it. */
async function runInline(task: TaskRun, validated: RunSpec, t: ConversationTarget): Promise<AgentRunResult> {
  const { tenantId, taskId, agentId, conversationId } = t;
  const spec = await validated.forActivity();
  const started = await startConversation({ tenantId, taskId, agentId, conversationId, spec });
  // A conversation begun before specs were stored passes the whole spec, as it did.
  const run = await converse(
    t,
    started,
    started.spec ?? spec,
    { turn: 0, tokens: 0, costUsd: 0, startedAt: Date.now() },
    {
      onTurn: (turn) => task.setSubState(`agent turn ${turn}`),
      onUsage: (usage) => task.recordUsage(usage),
      onViolation: (v) => task.addViolation(v),
    },
  );
  task.setSubState(null);
  return run;
}

/** The usage a conversation child's agent spent before it failed ({@link AgentFailedError} carries it). */
function usageOfFailedAgent(err: unknown): { tokens: number; costUsd: number } | undefined {
  const cause = err instanceof ChildWorkflowFailure ? err.cause : undefined;
  if (!(cause instanceof ApplicationFailure) || cause.type !== AgentFailedError.type) return undefined;
  const { tokens, costUsd } = (cause.details?.[0] ?? {}) as { tokens?: number; costUsd?: number };
  return typeof tokens === 'number' ? { tokens, costUsd: costUsd ?? 0 } : undefined;
}
