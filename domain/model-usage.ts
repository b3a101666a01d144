/**
 * What the model gateway reads from the traffic it forwards: which request paths each protocol
 * allows, what a request body may not ask of the upstream, and the token usage a response
 * reports, whether whole or streamed as server-sent events. Pure, so the rules are tested without a server and mean the same on every worker.
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

/**
 * Tool types the client runs: functions and custom tools (an Anthropic tool with no type), the
 * built-in ones a coding agent executes itself (shell, editor, computer, patches, memory), and
 * tool search, which the upstream runs over the request's own tools. Any other type runs on the
 * upstream (web search and fetch, code execution, MCP, file search, image generation, and
 * whatever comes next), reaching hosts and spending money the gateway neither sees nor charges:
 * refused until it is known. A deny list of server tools missed image generation.
 */
const CLIENT_TOOL =
  /^(function|custom|tool_search|local_shell|shell|apply_patch|computer_use_preview|(bash|text_editor|computer|memory|tool_search_tool_(regex|bm25))_\d{8})$/;
/** Models that search the web of themselves, with no tool asked for (chat `*-search-preview` and `-search-api`, deep research). */
const SEARCHING_MODEL = /search-preview|search-api|deep-research/i;
/** Content parts an upstream fetches by URL (Anthropic `source`, OpenAI images and files). */
const FETCHED_PART = new Set(['url', 'image_url', 'input_image', 'input_file']);
const remote = (v: unknown) => typeof v === 'string' && /^\s*https?:/i.test(v);

/**
 * Why a request body would make the upstream reach past itself, or undefined. Why: the agent's
 * only way out of the sandbox is the model API, so the API must not become its fetcher, MCP
 * client or background job (a background response finishes after the call, unseen and uncharged).
 */
export function offHostProblem(protocol: GatewayProtocol, doc: Record<string, unknown>): string | undefined {
  if (doc.mcp_servers !== undefined) return '`mcp_servers` would have the upstream connect to other hosts';
  if (doc.web_search_options !== undefined) return '`web_search_options` would have the upstream search the web';
  if (protocol === 'openai-responses' && doc.background) return 'a background response ends after the call, uncharged';
  if (protocol !== 'anthropic-messages' && typeof doc.model === 'string' && SEARCHING_MODEL.test(doc.model))
    return `the model '${doc.model.slice(0, 200)}' would have the upstream search the web`;
  for (const tool of Array.isArray(doc.tools) ? doc.tools : []) {
    const type = obj(tool).type;
    // An Anthropic tool with no type is a custom one; the OpenAI protocols always name the type.
    if (type === undefined ? protocol === 'anthropic-messages' : typeof type === 'string' && CLIENT_TOOL.test(type))
      continue;
    return `the tool type '${String(type).slice(0, 200)}' is not one the client runs: a server tool runs on the upstream`;
  }
  const pending: unknown[] = [doc.messages, doc.input, doc.system, doc.prompt];
  while (pending.length) {
    const v = pending.pop();
    if (!v || typeof v !== 'object') continue;
    const o = v as Json;
    const image = o.image_url;
    if (FETCHED_PART.has(String(o.type)) && [o.url, image, obj(image).url, o.file_url].some(remote))
      return `a '${String(o.type)}' part would have the upstream fetch a URL`;
    for (const inner of Array.isArray(v) ? v : Object.values(o)) pending.push(inner);
  }
  return undefined;
}

/**
 * Why a request asks for a model its upstream does not allow, or undefined. Why: an upstream's
 * `pricing` is one price, and the agent names the model in each request; without a list it may
 * ask for one that costs many times what its cost budget counts.
 */
export function modelNotAllowed(upstream: { name: string; models?: readonly string[] }, doc: Json): string | undefined {
  if (!upstream.models) return undefined;
  const model = doc.model;
  if (typeof model === 'string' && upstream.models.includes(model)) return undefined;
  const asked = typeof model === 'string' ? `the model '${model.slice(0, 200)}'` : 'a request naming no model';
  return `${asked} is not allowed on upstream '${upstream.name}' (allowed: ${upstream.models.join(', ')})`;
}

/** Folds one JSON document (a whole response or one streamed event) into the running usage. */
function foldUsage(protocol: GatewayProtocol, doc: Json, into: ModelUsage): void {
  if (protocol === 'anthropic-messages') {
    // Streams report input in message_start and the running output total in message_delta.
    const message = obj(doc.message);
    const usage = obj(doc.type === 'message_start' ? message.usage : doc.usage);
    if (typeof message.model === 'string') into.model = message.model;
    if (typeof doc.model === 'string') into.model = doc.model;
    const written = num(usage.cache_creation_input_tokens);
    const read = num(usage.cache_read_input_tokens);
    const input = num(usage.input_tokens) + written + read;
    if (input) into.inputTokens = input;
    if (num(usage.output_tokens)) into.outputTokens = num(usage.output_tokens);
    if (written || read) {
      const shortWrites = Math.min(written, num(obj(usage.cache_creation).ephemeral_5m_input_tokens));
      noteCache(into, { read, shortWrites, longWrites: written - shortWrites });
    }
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
