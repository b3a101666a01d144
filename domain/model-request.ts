/**
 * What the model gateway lets a request ask of its upstream: the paths each protocol allows, the
 * models an upstream lists, and nothing that would make the upstream reach past itself. Pure, so
 * the rules are tested without a server and mean the same on every worker.
 */
import type { GatewayProtocol } from './agent';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});

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
/** Models that search the web of themselves, with no tool asked for (chat `*-search-preview` and `-search-api`, deep research, Perplexity's `sonar`). */
const SEARCHING_MODEL = /search-preview|search-api|deep-research|sonar/i;
/** OpenRouter's web-searching variant of any model, whatever the protocol (it serves Anthropic's too). */
const ONLINE_MODEL = /:online\b/i;
/** Request fields naming models a router falls back to (OpenRouter's `models`, LiteLLM's `*fallbacks`). */
const FALLBACK_KEYS = ['models', 'fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'];
/** Request fields with which OpenAI-compatible routers (OpenRouter, LiteLLM) pick the provider or endpoint. */
const ROUTING_KEYS = ['provider', 'user_config', 'api_base', 'base_url'];
/** Content parts an upstream fetches by URL (Anthropic `source`, OpenAI images and files). */
const FETCHED_PART = new Set(['url', 'image_url', 'input_image', 'input_file']);
const remote = (v: unknown) => typeof v === 'string' && /^\s*https?:/i.test(v);

/**
 * The key that hands a client tool to the upstream to run, or undefined: OpenAI's `shell` runs in
 * a hosted container, with the network its `network_policy` allows, unless its `environment` is
 * local; a container or a connector is the upstream's too. (`computer_use_preview` names the
 * client's screen, a string, in its `environment`.)
 */
function hostedKey(tool: Json): string | undefined {
  if (tool.type === 'shell' && tool.environment !== undefined && obj(tool.environment).type !== 'local')
    return 'environment';
  return ['container', 'server_url', 'connector_id'].find((key) => tool[key] !== undefined);
}

/**
 * Why a request body would make the upstream reach past itself, or undefined. Why: the agent's
 * only way out of the sandbox is the model API, so the API must not become its fetcher, MCP
 * client or background job (a background response finishes after the call, unseen and uncharged).
 */
export function offHostProblem(protocol: GatewayProtocol, doc: Record<string, unknown>): string | undefined {
  if (doc.mcp_servers !== undefined) return '`mcp_servers` would have the upstream connect to other hosts';
  if (doc.web_search_options !== undefined) return '`web_search_options` would have the upstream search the web';
  if (doc.search_parameters !== undefined) return '`search_parameters` would have the upstream search the web';
  // OpenAI-compatible aggregators act on fields of their own: OpenRouter's `plugins` search the web
  // (billed per search, outside token usage) and a `preset` brings models, plugins and settings.
  if (doc.plugins !== undefined) return '`plugins` would have the upstream run plugins (web search among them)';
  if (doc.preset !== undefined || (typeof doc.model === 'string' && doc.model.includes('@preset/')))
    return 'a preset brings models, plugins and settings the gateway cannot see';
  // A router's own choice of provider or endpoint: another price than the upstream's, or another host.
  const routed = ROUTING_KEYS.find((key) => doc[key] !== undefined);
  if (routed) return `\`${routed}\` would have the upstream route the call to a provider or host of its naming`;
  if (typeof doc.model === 'string' && ONLINE_MODEL.test(doc.model))
    return `the model '${doc.model.slice(0, 200)}' would have the upstream search the web`;
  if (protocol === 'openai-responses' && doc.background) return 'a background response ends after the call, uncharged';
  // A stored prompt carries its own tools, model and settings: the gateway would check none of them.
  if (protocol === 'openai-responses' && doc.prompt !== undefined)
    return 'a stored prompt (`prompt`) brings tools and settings the gateway cannot see';
  if (protocol !== 'anthropic-messages' && typeof doc.model === 'string' && SEARCHING_MODEL.test(doc.model))
    return `the model '${doc.model.slice(0, 200)}' would have the upstream search the web`;
  for (const tool of Array.isArray(doc.tools) ? doc.tools : []) {
    const type = obj(tool).type;
    // An Anthropic tool with no type is a custom one; the OpenAI protocols always name the type.
    if (type === undefined ? protocol === 'anthropic-messages' : typeof type === 'string' && CLIENT_TOOL.test(type)) {
      const hosted = hostedKey(obj(tool));
      if (hosted) return `the tool '${String(type).slice(0, 200)}' with \`${hosted}\` would run on the upstream`;
      continue;
    }
    return `the tool type '${String(type).slice(0, 200)}' is not one the client runs: a server tool runs on the upstream`;
  }
  const pending: unknown[] = [doc.messages, doc.input, doc.system];
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
  const { models } = upstream;
  if (!models) return undefined;
  const allowed = `not allowed on upstream '${upstream.name}' (allowed: ${models.join(', ')})`;
  const model = doc.model;
  if (typeof model !== 'string' || !models.includes(model))
    return `${typeof model === 'string' ? `the model '${model.slice(0, 200)}'` : 'a request naming no model'} is ${allowed}`;
  // An aggregator routes to the models a request lists past its `model`.
  for (const key of FALLBACK_KEYS) {
    const listed = doc[key];
    if (listed === undefined || listed === null) continue;
    const other = Array.isArray(listed) ? listed.find((m) => typeof m !== 'string' || !models.includes(m)) : listed;
    if (Array.isArray(listed) && other === undefined) continue;
    return `\`${key}\` names ${typeof other === 'string' ? `the model '${other.slice(0, 200)}'` : 'a model entry that is not a name'}, ${allowed}`;
  }
  return undefined;
}
