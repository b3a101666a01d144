/**
 * The `openai` agent kind as activities: the transcript lives in PostgreSQL; `callModel` makes
 * one chat-completions request per turn and `runToolCall` executes one tool call through the
 * sandbox. Both look in the transcript first, so a turn or tool call that completed before a
 * crash is never made again: its stored result is returned instead. A transcript belongs to one
 * run: another run's is refused, never continued or answered from.
 */
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import {
  CallModelInput,
  RunToolCallInput,
  StartConversationInput,
  type ModelReply,
  type StartedConversation,
  type ToolCallOutcome,
} from '../domain/activity-io';
import { AGENT_TOOLS } from '../domain/agent-tools';
import { OpenAIConfigSchema, type OpenAIConfig } from '../domain/agent';
import { boundedViolation, escapeNul } from '../domain/bounds';
import { costOf } from '../domain/model-cost';
import { usageOfDocument } from '../domain/model-usage';
import { AgentConfigError, AgentFailedError, RecordMismatchError } from '../domain/errors';
import { zodProblems } from '../domain/zod-issues';
import type { PolicyViolation } from '../domain/sandbox';
import { buildTaskPrompt } from '../domain/prompt';
import { getAgent } from '../db/agents';
import type { Db } from '../db/client';
import { conversationMessages, conversations } from '../db/schema';
import { requireTaskWorkspace } from '../host/git';
import { executeToolCall } from '../host/sandbox/tool-calls';
import type { ActivityDeps } from './deps';
import { beatAtStart, cancellable, withHeartbeat } from './heartbeat';
import { parseActivityInput } from './input';
import { requireRoutedAgent } from './routed-agent';
import {
  conversationSpec,
  owningRun,
  requireLiveConversation,
  requireOwnConversation,
  storeConversationSpec,
} from './conversation-records';
import { keptToolCalls } from './model-reply';
import { runsOwnRefusal } from './model-errors';
import { isSpecRef } from './spec-refs';
import { sha256 } from '../host/digest';
import type { CommandRunner } from '../host/sandbox/commands';
import type { SessionIdentity } from '../host/gateway/session';
import type { FileTools } from '../host/sandbox/file-tools';
import { MAX_REQUEST_BYTES } from '../host/gateway/http-io';

type Message = typeof conversationMessages.$inferSelect;

const DEFAULT_SYSTEM_PROMPT =
  'You are a careful coding agent working in a sandboxed copy of a repository. Use the tools to make the requested change, keep to the allowed paths, and stop when done.';

async function openaiConfig(db: Db, agentId: string): Promise<OpenAIConfig> {
  const agent = await getAgent(db, agentId);
  const parsed = OpenAIConfigSchema.safeParse(agent.config);
  if (agent.kind !== 'openai' || !parsed.success)
    throw new AgentConfigError(
      agentId,
      `not a valid openai agent${parsed.success ? '' : `: ${zodProblems(parsed.error, { prefix: 'config' }).join('; ')}`}`,
    );
  return parsed.data;
}

/**
 * Appends a message at the end of the transcript. Serialised per conversation, so two
 * overlapping attempts of a step can never take the same seq and silently drop a message; a
 * message already stored for the same turn or tool call is not added again.
 */
async function append(
  db: Db,
  tenantId: string,
  conversationId: string,
  m: Omit<typeof conversationMessages.$inferInsert, 'tenantId' | 'conversationId' | 'seq'>,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`conversation/${conversationId}`}))`);
    const [{ next }] = await tx
      .select({ next: sql<number>`coalesce(max(${conversationMessages.seq}), -1) + 1` })
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, conversationId));
    await tx
      .insert(conversationMessages)
      .values({ tenantId, conversationId, seq: next, ...m })
      .onConflictDoNothing();
  });
}

/**
 * Writes the conversation's row and its opening messages, each unless it is there. One
 * transaction: a first attempt that stopped between the row and its messages left a retry that
 * found the row and wrote no messages, so the model was never given the task (a row left so by an
 * older release gets them now). Another run's row is left alone; the ownership check names why.
 */
async function openTranscript(
  db: Db,
  row: typeof conversations.$inferInsert,
  opening: Array<{ role: 'system' | 'user'; content: string }>,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(conversations).values(row).onConflictDoNothing();
    const [stored] = await tx.select().from(conversations).where(eq(conversations.id, row.id));
    if (stored?.tenantId !== row.tenantId || stored.taskId !== row.taskId || stored.runId !== row.runId) return;
    await tx
      .insert(conversationMessages)
      .values(opening.map((m, seq) => ({ tenantId: row.tenantId, conversationId: row.id, seq, ...m })))
      .onConflictDoNothing();
  });
}

/**
 * Adds a retry's feedback as a user turn at the end of the transcript, unless it is already the
 * last message there (a retried activity, or the same retry resumed).
 */
async function appendFeedback(db: Db, tenantId: string, conversationId: string, content: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`conversation/${conversationId}`}))`);
    const [last] = await tx
      .select()
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, conversationId))
      .orderBy(desc(conversationMessages.seq))
      .limit(1);
    if (last?.role === 'user' && last.content === content) return;
    await tx
      .insert(conversationMessages)
      .values({ tenantId, conversationId, seq: (last?.seq ?? -1) + 1, role: 'user', content });
  });
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

/**
 * The request as sent, within the bound the gateway holds agents' requests to. Each turn sends
 * the whole transcript, and a model answering with replies of several MiB grew it turn by turn:
 * at 30 turns of 8 MiB, each call held several copies of 240 MiB. Past the bound the conversation
 * has outgrown what may be sent, which fails this run, as an overflowing context does.
 */
function requestBody(body: object): Buffer {
  const bytes = Buffer.from(JSON.stringify(body));
  if (bytes.length > MAX_REQUEST_BYTES)
    throw new Error(
      `the conversation is ${bytes.length} bytes, more than the ${MAX_REQUEST_BYTES} a request may carry`,
      { cause: 'run' },
    );
  return bytes;
}

/**
 * One chat-completions request through the worker's gateway, as `model`: the same path, key
 * handling and call record as a command agent's. The loop's own limits (turns, tokens, wall
 * clock) are the workflow's, so the session carries no budgets of its own.
 */
async function requestCompletion(
  deps: ActivityDeps,
  identity: SessionIdentity,
  config: OpenAIConfig,
  messages: Record<string, unknown>[],
  signal: AbortSignal,
) {
  if (!deps.gateway) throw new AgentConfigError(identity.agentId, 'this worker runs no model gateway');
  if (config.apiKeyEnv && !deps.secretEnv(config.apiKeyEnv))
    throw new AgentConfigError(
      identity.agentId,
      `environment variable ${config.apiKeyEnv} (its API key) is not set on this worker`,
    );
  const body = {
    model: config.model,
    messages,
    tools: AGENT_TOOLS,
    tool_choice: 'auto',
    ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
  };
  const upstream = {
    name: 'model',
    protocol: 'openai-chat' as const,
    baseUrl: config.baseUrl,
    apiKeyEnv: config.apiKeyEnv,
    pricing: config.pricing,
  };
  const payload = requestBody(body);
  const session = await deps.gateway.openSession(identity, { upstreams: [upstream], registries: [], budgets: {} });
  const res = await deps.gateway
    .call(session, {
      method: 'POST',
      upstream: 'model',
      rest: 'chat/completions',
      body: payload,
      signal: AbortSignal.any([signal, AbortSignal.timeout(config.requestTimeoutSeconds * 1000)]),
    })
    .finally(() => deps.gateway?.closeSession(session.id));
  const text = res.body.toString('utf8');
  // 4xx other than timeouts and rate limits will not improve by asking again: the config is wrong,
  // or the conversation outgrew the model's context or was refused for its content (the run's doing).
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
    throw new Error(`model endpoint refused the request (${res.status}): ${text.slice(0, 300)}`, {
      cause: runsOwnRefusal(res.status, text) ? 'run' : 'config',
    });
  if (res.status < 200 || res.status >= 300)
    throw new Error(`model endpoint failed (${res.status}): ${text.slice(0, 300)}`);
  return JSON.parse(text) as {
    choices: Array<{
      message: {
        content: string | null;
        tool_calls?: Array<{ id: string; type?: string; function: { name: string; arguments: string } }>;
      };
    }>;
    usage?: { prompt_tokens?: number; completion_tokens?: number };
  };
}

/** Builds `startConversation`, `callModel` and `runToolCall`. */
export function createConversationActivities(deps: ActivityDeps, tools: FileTools, runCommand: CommandRunner) {
  const { db } = deps;
  return {
    async startConversation(raw: StartConversationInput): Promise<StartedConversation> {
      const input = parseActivityInput(StartConversationInput, raw);
      const spec = await conversationSpec(db, input, input.spec);
      await requireRoutedAgent(db, input);
      const config = await openaiConfig(db, input.agentId);
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
      const response = await withHeartbeat(
        (signal) => requestCompletion(deps, identity, config, transcript.map(toApiMessage), signal),
        { turn: input.turn },
      ).catch((err: Error) => {
        if (err.cause === 'run') throw new AgentFailedError(input.agentId, err.message);
        throw err.cause === 'config' ? new AgentConfigError(input.agentId, err.message) : err;
      });
      const message = response.choices?.[0]?.message;
      if (!message) throw new Error('model endpoint returned no choices');
      const promptTokens = tokenCount(response.usage?.prompt_tokens);
      const completionTokens = tokenCount(response.usage?.completion_tokens);
      const costUsd = costOf(usageOfDocument('openai-chat', response), config.pricing);
      const earlier = new Set(transcript.flatMap((m) => m.toolCalls?.map((c) => c.id) ?? []));
      const toolCalls = keptToolCalls(message.tool_calls, input.turn, earlier);
      await append(db, input.tenantId, input.conversationId, {
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
      await requireOwnConversation(db, input);
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
      const spec = await conversationSpec(db, input, input.spec);
      const request = { ...input, spec, name: call.function.name, arguments: call.function.arguments };
      const result = await executeToolCall({ tools, runCommand: cancellable(runCommand), input: request });
      await append(db, input.tenantId, input.conversationId, {
        role: 'tool',
        toolCallId: input.callId,
        content: result.content,
        violation: result.violation ?? null,
      });
      return outcomeOf(result.content, result.violation);
    },
  };
}

/**
 * A token count as the endpoint reported it, if it is one: negative, fractional or huge counts
 * (a hostile endpoint's) would be refused where the outcome is recorded, and the FAIL with it.
 */
function tokenCount(reported: unknown): number {
  return typeof reported === 'number' && Number.isInteger(reported) && reported >= 0 ? Math.min(reported, 1e9) : 0;
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
