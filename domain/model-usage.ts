/**
 * What the model gateway reads from the traffic it forwards: which request paths each protocol
 * allows, and the token usage a response reports, whether whole or streamed as server-sent
 * events. Pure, so the rules are tested without a server and mean the same on every worker.
 */
import type { GatewayProtocol } from './agent';

/** Tokens one model call consumed, as the upstream reported them. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  model?: string;
}

/** Why paths per protocol: a key for messages must not also buy files, batches or fine-tunes. */
const ALLOWED: Record<GatewayProtocol, { method: string; path: RegExp }[]> = {
  'anthropic-messages': [{ method: 'POST', path: /^(v1\/)?messages(\/count_tokens)?$/ }],
  'openai-chat': [
    { method: 'POST', path: /^(v1\/)?chat\/completions$/ },
    { method: 'GET', path: /^(v1\/)?models$/ },
  ],
  'openai-responses': [
    { method: 'POST', path: /^(v1\/)?responses$/ },
    { method: 'GET', path: /^(v1\/)?models$/ },
  ],
};

/** The refusal reason for a request an upstream's protocol does not allow, or undefined. */
export function modelPathProblem(protocol: GatewayProtocol, method: string, rest: string): string | undefined {
  const path = rest.split('?')[0];
  if (ALLOWED[protocol].some((a) => a.method === method && a.path.test(path))) return undefined;
  return `${method} /${path} is not a ${protocol} call`;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});

/** Folds one JSON document (a whole response or one streamed event) into the running usage. */
function foldUsage(protocol: GatewayProtocol, doc: Json, into: ModelUsage): void {
  if (protocol === 'anthropic-messages') {
    // Streams report input in message_start and the running output total in message_delta.
    const message = obj(doc.message);
    const usage = obj(doc.type === 'message_start' ? message.usage : doc.usage);
    if (typeof message.model === 'string') into.model = message.model;
    if (typeof doc.model === 'string') into.model = doc.model;
    const input = num(usage.input_tokens) + num(usage.cache_creation_input_tokens) + num(usage.cache_read_input_tokens);
    if (input) into.inputTokens = input;
    if (num(usage.output_tokens)) into.outputTokens = num(usage.output_tokens);
    return;
  }
  if (protocol === 'openai-responses') {
    const response = doc.response ? obj(doc.response) : doc;
    const usage = obj(response.usage);
    if (typeof response.model === 'string') into.model = response.model;
    if (num(usage.input_tokens)) into.inputTokens = num(usage.input_tokens);
    if (num(usage.output_tokens)) into.outputTokens = num(usage.output_tokens);
    return;
  }
  const usage = obj(doc.usage);
  if (typeof doc.model === 'string') into.model = doc.model;
  if (num(usage.prompt_tokens)) into.inputTokens = num(usage.prompt_tokens);
  if (num(usage.completion_tokens)) into.outputTokens = num(usage.completion_tokens);
}

/** Usage of a response body: one JSON document, or an event stream of `data:` lines. */
export function usageOf(protocol: GatewayProtocol, body: string): ModelUsage {
  const usage: ModelUsage = { inputTokens: 0, outputTokens: 0 };
  const docs = body.trimStart().startsWith('{')
    ? [body]
    : body
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim());
  for (const text of docs) {
    try {
      foldUsage(protocol, obj(JSON.parse(text)), usage);
    } catch {
      // `[DONE]` and keep-alives are not JSON.
    }
  }
  return usage;
}

/** USD a call cost at the upstream's prices (0 when none are configured). */
export function costOf(usage: ModelUsage, pricing?: { inputPerMillion: number; outputPerMillion: number }): number {
  if (!pricing) return 0;
  return (usage.inputTokens * pricing.inputPerMillion + usage.outputTokens * pricing.outputPerMillion) / 1e6;
}

/** What the verdict says of an agent run's model traffic: enough to audit, small enough to sign. */
export interface GatewaySummary {
  calls: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  byUpstream: Record<string, number>;
  refusals: number;
  /** The first few refusals' reasons, so a reader sees what was tried. */
  refusalReasons: string[];
  /** Why the gateway stopped the agent, when it did. */
  stopReason?: string;
}
