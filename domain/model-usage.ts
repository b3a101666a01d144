/**
 * What the model gateway reads from the replies it forwards: the tokens a response reports, whole
 * or streamed as server-sent events, and which of them the prompt cache read or wrote. Pure, so
 * the rules are tested without a server and mean the same on every worker.
 */
import type { GatewayProtocol } from './agent';

/** Input tokens billed at other rates than plain input, counted within `inputTokens`. */
export interface CacheTokens {
  read: number;
  /** Anthropic five-minute cache writes. */
  shortWrites: number;
  /** Anthropic one-hour cache writes, and writes the reply does not say the duration of. */
  longWrites: number;
}

/** Tokens one model call consumed, as the upstream reported them. */
export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  /** Present when the reply names cached input. */
  cache?: CacheTokens;
  model?: string;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});

/** One Anthropic usage object's figures: its input with the cache's part of it, and its output. */
interface Figures {
  input: number;
  output: number;
  cache: CacheTokens;
}

function anthropicFigures(usage: Json): Figures {
  const written = num(usage.cache_creation_input_tokens);
  const read = num(usage.cache_read_input_tokens);
  const shortWrites = Math.min(written, num(obj(usage.cache_creation).ephemeral_5m_input_tokens));
  return {
    input: num(usage.input_tokens) + written + read,
    output: num(usage.output_tokens),
    cache: { read, shortWrites, longWrites: written - shortWrites },
  };
}

/**
 * What an Anthropic call is billed: its usage, or the sum of its `iterations` when that is more.
 * Why: compaction samples once more to summarise the conversation, and bills it, but the top-level
 * figures count only the answer's own sampling (23,000 input where 203,000 were billed).
 */
function anthropicBilled(usage: Json): Figures {
  const top = anthropicFigures(usage);
  if (!Array.isArray(usage.iterations)) return top;
  const sum = usage.iterations.map((i) => anthropicFigures(obj(i))).reduce(addFigures, NO_FIGURES);
  return sum.input + sum.output > top.input + top.output ? sum : top;
}

const NO_FIGURES: Figures = { input: 0, output: 0, cache: { read: 0, shortWrites: 0, longWrites: 0 } };

function addFigures(a: Figures, b: Figures): Figures {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cache: {
      read: a.cache.read + b.cache.read,
      shortWrites: a.cache.shortWrites + b.cache.shortWrites,
      longWrites: a.cache.longWrites + b.cache.longWrites,
    },
  };
}

/** Folds one JSON document (a whole response or one streamed event) into the running usage. */
function foldUsage(protocol: GatewayProtocol, doc: Json, into: ModelUsage): void {
  if (protocol === 'anthropic-messages') {
    // Streams report input in message_start and running totals in message_delta: the largest figure holds.
    const message = obj(doc.message);
    if (typeof message.model === 'string') into.model = message.model;
    if (typeof doc.model === 'string') into.model = doc.model;
    const billed = anthropicBilled(obj(doc.type === 'message_start' ? message.usage : doc.usage));
    into.inputTokens = Math.max(into.inputTokens, billed.input);
    into.outputTokens = Math.max(into.outputTokens, billed.output);
    if (billed.input >= into.inputTokens) noteCache(into, billed.cache);
    return;
  }
  if (protocol === 'openai-responses') {
    const response = doc.response ? obj(doc.response) : doc;
    const usage = obj(response.usage);
    if (typeof response.model === 'string') into.model = response.model;
    if (num(usage.input_tokens)) into.inputTokens = num(usage.input_tokens);
    if (num(usage.output_tokens)) into.outputTokens = num(usage.output_tokens);
    noteCache(into, { read: num(obj(usage.input_tokens_details).cached_tokens), shortWrites: 0, longWrites: 0 });
    return;
  }
  const usage = obj(doc.usage);
  if (typeof doc.model === 'string') into.model = doc.model;
  if (num(usage.prompt_tokens)) into.inputTokens = num(usage.prompt_tokens);
  if (num(usage.completion_tokens)) into.outputTokens = num(usage.completion_tokens);
  noteCache(into, { read: num(obj(usage.prompt_tokens_details).cached_tokens), shortWrites: 0, longWrites: 0 });
}

/** Keeps the latest cache figures a reply gave; a document naming none leaves them. */
function noteCache(into: ModelUsage, cache: CacheTokens): void {
  if (cache.read || cache.shortWrites || cache.longWrites) into.cache = cache;
}

/** The usage one whole response reports (a client that parsed it already). */
export function usageOfDocument(protocol: GatewayProtocol, doc: unknown): ModelUsage {
  const usage: ModelUsage = { inputTokens: 0, outputTokens: 0 };
  foldUsage(protocol, obj(doc), usage);
  return usage;
}

/**
 * A token count within what a record holds (its columns are 32-bit): a hostile endpoint's huge
 * count was refused by the database, and the call, or the outcome, went unrecorded with it.
 */
export function tokenCount(read: number): number {
  return Math.min(read, 1e9);
}

/**
 * The documents of a response body that can report usage: the one JSON document, or an event
 * stream's `data:` lines with a `usage` that is not `null` (the others carry the model's text; a
 * chat stream asked for its usage names `"usage":null` in every event before the last, and the
 * model's own text cannot spell a key: its quotes are escaped).
 */
export function usageDocuments(body: string): string[] {
  if (body.trimStart().startsWith('{')) return [body];
  return body
    .split('\n')
    .filter((l) => l.startsWith('data:') && REPORTED_USAGE.test(l))
    .map((l) => l.slice(5).trim());
}

const REPORTED_USAGE = /"usage"\s*:(?!\s*null\b)/;

/** The usage `docs` ({@link usageDocuments}) report. */
export function usageOfDocuments(protocol: GatewayProtocol, docs: readonly string[]): ModelUsage {
  const usage: ModelUsage = { inputTokens: 0, outputTokens: 0 };
  for (const text of docs) {
    try {
      foldUsage(protocol, obj(JSON.parse(text)), usage);
    } catch {
      // `[DONE]` and keep-alives are not JSON.
    }
  }
  return usage;
}

/** Usage of a response body: one JSON document, or an event stream of `data:` lines. */
export function usageOf(protocol: GatewayProtocol, body: string): ModelUsage {
  return usageOfDocuments(protocol, usageDocuments(body));
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
