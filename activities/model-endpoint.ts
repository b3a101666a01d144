/**
 * One chat-completions request of an `openai` agent's conversation, through the worker's model
 * gateway, and whose fault a refusal of it is.
 */
import { AGENT_TOOLS } from '../domain/agent-tools';
import type { OpenAIConfig } from '../domain/agent';
import { AgentConfigError } from '../domain/errors';
import { MAX_REQUEST_BYTES } from '../host/gateway/http-io';
import type { SessionIdentity } from '../host/gateway/session';
import type { ActivityDeps } from './deps';
import { runsOwnRefusal } from './model-errors';
import { keyDestinationRefusal } from '../domain/model-keys';

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
 * handling and call record as a command agent's, and the same budgets: the agent's tokens, and its
 * wall clock as the workflow's agent clock (`startedAt`) counts it.
 */
export async function requestCompletion(
  deps: ActivityDeps,
  identity: SessionIdentity,
  config: OpenAIConfig,
  messages: Record<string, unknown>[],
  signal: AbortSignal,
  startedAt: number | undefined,
) {
  if (!deps.gateway) throw new AgentConfigError(identity.agentId, 'this worker runs no model gateway');
  const elsewhere = keyDestinationRefusal(deps.modelKeys, config) ?? (await deps.gateway.networkRefusal(config));
  if (elsewhere) throw new AgentConfigError(identity.agentId, elsewhere);
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
  // The loop's token limit is the gateway's too, counted from every call it charged the run's agent
  // (a failed attempt's, a reply without choices): the workflow counts only the replies it kept, and
  // workflow code of an insider's own counts nothing. The wall clock is the workflow's agent clock,
  // which leaves out the gates and waits between attempts.
  const clocked = startedAt !== undefined;
  const budgets = {
    maxTokens: config.maxTokens,
    ...(clocked ? { maxWallClockSeconds: config.maxWallClockSeconds } : {}),
  };
  const session = await deps.gateway.openSession(identity, {
    upstreams: [upstream],
    registries: [],
    budgets,
    ...(clocked ? { startedAt } : {}),
  });
  const spent = session.stopReason;
  if (spent) {
    await deps.gateway.closeSession(session.id);
    throw new Error(`the agent's model budget is spent: ${spent}`, { cause: 'run' });
  }
  const res = await deps.gateway
    .call(session, {
      method: 'POST',
      upstream: 'model',
      rest: 'chat/completions',
      body: payload,
      signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs(config, startedAt))]),
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

/** A request waits no longer than its own timeout, nor past the agent's wall-clock limit. */
function requestTimeoutMs(config: OpenAIConfig, startedAt: number | undefined): number {
  if (startedAt === undefined) return config.requestTimeoutSeconds * 1000;
  const left = startedAt + config.maxWallClockSeconds * 1000 - Date.now();
  return Math.max(1, Math.min(config.requestTimeoutSeconds * 1000, left));
}
