/**
 * The `openai` agent kind as activities: the transcript lives in PostgreSQL; `callModel` makes
 * one chat-completions request per turn and `runToolCall` executes one tool call through the
 * sandbox. Both look in the transcript first, so a turn or tool call that completed before a
 * crash is never made again: its stored result is returned instead. A transcript belongs to one
 * run: another run's is refused, never continued or answered from.
 */
import { and, asc, eq } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import {
  CallModelInput,
  RunToolCallInput,
  StartConversationInput,
  type ModelReply,
  type StartedConversation,
  type ToolCallOutcome,
} from '../domain/activity-io';
import { OpenAIConfigSchema, type OpenAIConfig } from '../domain/agent';
import { boundedViolation, escapeNul } from '../domain/bounds';
import { costOf } from '../domain/model-cost';
import { tokenCount, usageOfDocument } from '../domain/model-usage';
import { AgentConfigError, AgentFailedError, RecordMismatchError } from '../domain/errors';
import { zodProblems } from '../domain/zod-issues';
import type { PolicyViolation } from '../domain/sandbox';
import { buildTaskPrompt } from '../domain/prompt';
import { getAgent } from '../db/agents';
import type { Db } from '../db/client';
import { conversationMessages } from '../db/schema';
import { appendFeedback, appendMessage, openTranscript } from '../db/transcripts';
import { requireTaskWorkspace } from '../host/git';
import { executeToolCall } from '../host/sandbox/tool-calls';
import type { ActivityDeps } from './deps';
import { beatAtStart, cancellable, withHeartbeat } from './heartbeat';
import { parseActivityInput } from './input';
import { requireActiveAgent, requireRoutedAgent } from './routed-agent';
import {
  conversationSpec,
  owningRun,
  requireLiveConversation,
  requireOwnConversation,
  storeConversationSpec,
} from './conversation-records';
import { keptToolCalls } from './model-reply';
import { requestCompletion } from './model-endpoint';
import { isSpecRef, requireTaskSpec } from './spec-refs';
import { sha256 } from '../host/digest';
import type { CommandRunner } from '../host/sandbox/commands';
import type { FileTools } from '../host/sandbox/file-tools';

type Message = typeof conversationMessages.$inferSelect;

const DEFAULT_SYSTEM_PROMPT =
  'You are a careful coding agent working in a sandboxed copy of a repository. Use the tools to make the requested change, keep to the allowed paths, and stop when done.';

async function openaiConfig(db: Db, agentId: string): Promise<OpenAIConfig> {
  const agent = await getAgent(db, agentId);
  requireActiveAgent(agent);
  const parsed = OpenAIConfigSchema.safeParse(agent.config);
  if (agent.kind !== 'openai' || !parsed.success)
    throw new AgentConfigError(
      agentId,
      `not a valid openai agent${parsed.success ? '' : `: ${zodProblems(parsed.error, { prefix: 'config' }).join('; ')}`}`,
    );
  return parsed.data;
}

function toApiMessage(m: Message): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content ?? '' };
  if (m.role === 'assistant')
    return { role: 'assistant', content: m.content, ...(m.toolCalls ? { tool_calls: m.toolCalls } : {}) };
  return { role: m.role, content: m.content ?? '' };
}

function replyOf(m: Message): ModelReply {
  const calls = m.toolCalls ?? [];
  return {
    toolCalls: calls.map((c) => ({ id: c.id, name: c.function.name })),
    summary: (m.content ?? '').slice(0, 500),
    promptTokens: m.promptTokens ?? 0,
    completionTokens: m.completionTokens ?? 0,
    costUsd: m.costUsd ?? 0,
  };
}

/** Builds `startConversation`, `callModel` and `runToolCall`. */
export function createConversationActivities(deps: ActivityDeps, tools: FileTools, runCommand: CommandRunner) {
  const { db } = deps;
  return {
    async startConversation(raw: StartConversationInput): Promise<StartedConversation> {
      const input = parseActivityInput(StartConversationInput, raw);
      const spec = await conversationSpec(db, input, input.spec);
      await requireTaskSpec(db, { ...input, runId: owningRun(input) }, spec);
      await requireRoutedAgent(db, input);
      const config = await openaiConfig(db, input.agentId);
      // Its id is predictable: a workflow of one's own under it, before the real child, would write the transcript.
      await requireLiveConversation(input);
      const row = {
        id: input.conversationId,
        tenantId: input.tenantId,
        taskId: input.taskId,
        runId: owningRun(input),
        agentId: input.agentId,
      };
      await openTranscript(db, row, [
        { role: 'system', content: config.systemPrompt ?? DEFAULT_SYSTEM_PROMPT },
        { role: 'user', content: buildTaskPrompt(spec) },
      ]);
      await requireOwnConversation(db, input);
      if (input.feedback) await appendFeedback(db, input.tenantId, input.conversationId, input.feedback);
      return {
        maxTurns: config.maxTurns,
        maxTokens: config.maxTokens,
        maxWallClockSeconds: config.maxWallClockSeconds,
        spec: isSpecRef(input.spec) ? input.spec : await storeConversationSpec(db, input, spec),
      };
    },

    async callModel(raw: CallModelInput): Promise<ModelReply> {
      const input = parseActivityInput(CallModelInput, raw);
      await requireOwnConversation(db, input);
      const transcript = await db
        .select()
        .from(conversationMessages)
        .where(eq(conversationMessages.conversationId, input.conversationId))
        .orderBy(asc(conversationMessages.seq));
      const done = transcript.find((m) => m.role === 'assistant' && m.turn === input.turn);
      if (done) return replyOf(done);
      await requireLiveConversation(input);
      const config = await openaiConfig(db, input.agentId);
      const identity = {
        tenantId: input.tenantId,
        taskId: input.taskId,
        runId: owningRun(input),
        agentId: input.agentId,
        purpose: 'conversation' as const,
      };
      // Heartbeats carry cancellation to a long model call; the request is aborted with the task.
      const since = clockStart(input.agentClockStart);
      const response = await withHeartbeat(
        (signal) => requestCompletion(deps, identity, config, transcript.map(toApiMessage), signal, since),
        { turn: input.turn },
      ).catch((err: Error) => {
        if (err.cause === 'run') throw new AgentFailedError(input.agentId, err.message);
        throw err.cause === 'config' ? new AgentConfigError(input.agentId, err.message) : err;
      });
      const message = response.choices?.[0]?.message;
      if (!message) throw new Error('model endpoint returned no choices');
      // One reading of the reply's usage, the gateway's: read two ways, fractional counts were 0 tokens here and billed there.
      const usage = usageOfDocument('openai-chat', response);
      const promptTokens = tokenCount(usage.inputTokens);
      const completionTokens = tokenCount(usage.outputTokens);
      const costUsd = costOf(usage, config.pricing);
      const earlier = new Set(transcript.flatMap((m) => m.toolCalls?.map((c) => c.id) ?? []));
      const toolCalls = keptToolCalls(message.tool_calls, input.turn, earlier);
      await appendMessage(db, input.tenantId, input.conversationId, {
        role: 'assistant',
        turn: input.turn,
        content: typeof message.content === 'string' ? escapeNul(message.content) : null,
        toolCalls,
        promptTokens,
        completionTokens,
        costUsd,
      });
      const [stored] = await db
        .select()
        .from(conversationMessages)
        .where(
          and(eq(conversationMessages.conversationId, input.conversationId), eq(conversationMessages.turn, input.turn)),
        );
      log.info('model turn', { turn: input.turn, toolCalls: toolCalls?.length ?? 0, promptTokens, completionTokens });
      return replyOf(stored);
    },

    async runToolCall(raw: RunToolCallInput): Promise<ToolCallOutcome> {
      beatAtStart();
      const input = parseActivityInput(RunToolCallInput, raw);
      requireTaskWorkspace(deps.home, input);
      const own = await requireOwnConversation(db, input);
      const messages = await db
        .select()
        .from(conversationMessages)
        .where(eq(conversationMessages.conversationId, input.conversationId));
      const done = messages.find((m) => m.role === 'tool' && m.toolCallId === input.callId);
      if (done) return outcomeOf(done.content ?? '', done.violation ?? undefined);
      const call = messages
        .find((m) => m.role === 'assistant' && m.turn === input.turn)
        ?.toolCalls?.find((c) => c.id === input.callId);
      if (!call)
        throw new RecordMismatchError(
          'tool call',
          `turn ${input.turn} of '${input.conversationId}' has no call ${input.callId}`,
        );
      await requireLiveConversation(input);
      const timeLeftMs = await wallClockLeft(db, own.agentId, clockStart(input.agentClockStart));
      const spec = await conversationSpec(db, input, input.spec);
      await requireTaskSpec(db, { ...input, runId: owningRun(input) }, spec);
      const request = { ...input, spec, name: call.function.name, arguments: call.function.arguments };
      const result = await executeToolCall({ tools, runCommand: cancellable(runCommand), input: request, timeLeftMs });
      await appendMessage(db, input.tenantId, input.conversationId, {
        role: 'tool',
        toolCallId: input.callId,
        content: result.content,
        violation: result.violation ?? null,
      });
      return outcomeOf(result.content, result.violation);
    },
  };
}

/** The workflow's agent clock start, if it sent one, never later than now (a later one would lengthen the limit). */
function clockStart(claimed: number | undefined): number | undefined {
  return claimed === undefined ? undefined : Math.min(claimed, Date.now());
}

/**
 * The time the agent's wall-clock limit leaves a tool call, by the workflow's agent clock, or its
 * run's failure once none is left: the workflow checks the limit between turns only, and one turn's
 * 32 commands of up to five minutes each ran hours past a limit of seconds (found in review).
 */
async function wallClockLeft(db: Db, agentId: string, since: number | undefined): Promise<number | undefined> {
  if (since === undefined) return undefined;
  const config = await openaiConfig(db, agentId);
  const left = since + config.maxWallClockSeconds * 1000 - Date.now();
  if (left <= 0) throw new AgentFailedError(agentId, `ran past its wall-clock limit of ${config.maxWallClockSeconds}s`);
  return left;
}

/** What history keeps of a tool result: whether it succeeded, its first 300 characters and the whole result's digest. */
function outcomeOf(content: string, violation: PolicyViolation | undefined): ToolCallOutcome {
  return {
    ok: !content.startsWith('error:'),
    summary: content.slice(0, 300),
    digest: sha256(content),
    ...(violation ? { violation: boundedViolation(violation) } : {}),
  };
}
