/**
 * One model call through the gateway: the session's token checked, the path held to the
 * upstream's protocol, the real key put on the way out, the answer passed back as it arrives,
 * and the call recorded with its usage and charged to the session's budgets. Used by the HTTP
 * front for command agents and in-process by Arbiter's own loop, so both take this one path.
 */
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import { inSpan } from '../tracing';
import type { Db } from '../../db/client';
import type { GatewayUpstream } from '../../domain/agent';
import { premiumServingProblem } from '../../domain/model-cost';
import { modelNotAllowed, modelPathProblem, offHostProblem } from '../../domain/model-request';
import { auditGateway } from './audit';
import { ABANDONED, readReply, recordCall } from './call-charge';
import { maskKeyIn, withoutKey } from './scrub';
import { jsonShapeProblem } from './json-shape';
import type { GatewaySession } from './session';
import { keyDestinationRefusal, type ModelKeyRule } from '../../domain/model-keys';
import { keylessUpstreamReach, WORKER_NETWORK_CODE } from './worker-network';

/** Where a response goes: an HTTP response, or a buffer for the in-process caller. */
export interface ResponseSink {
  start(status: number, headers: Record<string, string>): void;
  /** Resolves when the sink can take more: the upstream is read no faster than the agent reads. */
  write(chunk: Uint8Array): void | Promise<void>;
  end(): void;
}

/** A model request as the gateway received it. */
export interface ModelRequest {
  method: string;
  upstream: string;
  /** The path after `/u/<upstream>/`, with its query. */
  rest: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  signal?: AbortSignal;
}

/** What the gateway needs from the worker. */
export interface ModelCallDeps {
  db: Db;
  /** Reads a worker secret by variable name; the only way a real key is found. */
  secretEnv: (name: string) => string | undefined;
  /** The hosts each key may be sent to; absent, each preset's key to its vendor only. */
  modelKeys?: readonly ModelKeyRule[];
  /** Key-less upstreams on the worker's own network the operator allows (ARBITER_PRIVATE_UPSTREAMS), as `host` or `host:port`. */
  privateUpstreams?: readonly string[];
}

/** Request headers passed upstream; everything else (cookies, the agent's auth) stays behind. */
const FORWARDED = ['content-type', 'accept', 'anthropic-version', 'anthropic-beta', 'openai-beta', 'user-agent'];

/** Writes a refusal the way both protocol families show errors, and audits it. */
export async function refuse(
  deps: ModelCallDeps,
  session: GatewaySession,
  sink: ResponseSink,
  status: number,
  event: { op: string; target: string; reason: string },
): Promise<void> {
  await auditGateway(deps.db, session, { ...event, allowed: false, detail: { status } });
  writeError(sink, status, event.reason);
}

/** An error reply the way both protocol families show them. */
function writeError(sink: ResponseSink, status: number, message: string): void {
  sink.start(status, { 'content-type': 'application/json' });
  void sink.write(Buffer.from(JSON.stringify({ type: 'error', error: { type: 'arbiter_gateway', message } })));
  sink.end();
}

/**
 * The output tokens a request allows: the largest limit it names by any of its protocol's names (a
 * server may honour either of two), for each answer it asks for (chat's `n`, completions'
 * `best_of`: each written and billed; an abandoned `n: 128` call was charged one). A request for
 * an answer that names no limit may have the model write as much as it can: it is taken to allow
 * {@link UNNAMED_OUTPUT_LIMIT}, or an abandoned call without a limit was charged no output.
 */
function maxOutput(doc: Json, path: string): number {
  const limits = [doc.max_tokens, doc.max_output_tokens, doc.max_completion_tokens].filter(positive);
  const each = limits.length ? Math.max(...limits) : path.endsWith('count_tokens') ? 0 : UNNAMED_OUTPUT_LIMIT;
  const answers = [doc.n, doc.best_of].filter(positive);
  return Math.floor(each) * Math.max(1, ...answers.map((n) => Math.min(Math.floor(n), MAX_ANSWERS)));
}

/** A request field that counts something: a finite number above 0. */
const positive = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
/** The most answers one request is charged for (OpenAI's bound on `n`); tokens are capped beyond anyway. */
const MAX_ANSWERS = 128;

/** The output a request that names no limit is taken to allow: a bound, not a model's most (some write 128,000). */
export const UNNAMED_OUTPUT_LIMIT = 32_000;

function presentedToken(headers: ModelRequest['headers']): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') return apiKey;
  const auth = headers.authorization;
  return typeof auth === 'string' && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined;
}

function upstreamHeaders(upstream: GatewayUpstream, headers: ModelRequest['headers'], key: string | undefined) {
  const out: Record<string, string> = {};
  for (const name of FORWARDED) if (typeof headers[name] === 'string') out[name] = headers[name];
  if (key && upstream.protocol === 'anthropic-messages') out['x-api-key'] = key;
  else if (key) out.authorization = `Bearer ${key}`;
  return out;
}

type Json = Record<string, unknown>;

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Failures that come only after the upstream had the whole request, which it bills: no reply
 * headers within undici's 300 s, no more of the reply within as long, the connection dropped
 * while waiting. Any other failure (nothing listening, a reset, a TLS or certificate problem) is
 * taken for one before the request went out, and costs nothing: an upstream's outage must not
 * spend the run's budget.
 */
const AFTER_SENDING = ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_SOCKET'];

/** The reason a guarded connection refused the address a name resolved to, when that is why `err` came. */
function workerNetworkRefusal(err: unknown): string | undefined {
  const cause = err instanceof TypeError ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code === WORKER_NETWORK_CODE ? cause.message : undefined;
}

function sent(err: unknown): boolean {
  // Not a TypeError: an abort (Arbiter's own loop gave up waiting), after the request went out.
  if (!(err instanceof TypeError)) return true;
  const code = (err.cause as { code?: string } | undefined)?.code;
  return err.message === 'fetch failed' && code !== undefined && AFTER_SENDING.includes(code);
}

/**
 * The body the gateway forwards: its own reading of the agent's JSON, re-serialised, so the
 * upstream reads exactly what was checked (no duplicate keys, no NaN a lenient server accepts);
 * a `stream` flag other than a boolean is refused, since a server that takes `"true"` for true
 * would stream without the usage the gateway asks for. Chat-completions streams report usage
 * only when asked; the gateway always asks.
 */
function forwardedBody(
  upstream: GatewayUpstream,
  method: string,
  body: Buffer,
): { doc: Json; body: Buffer; streamed: boolean } | string {
  if (method === 'GET') return { doc: {}, body, streamed: false };
  const shape = jsonShapeProblem(body);
  if (shape) return shape;
  let text: string;
  try {
    // Lenient decoding makes each bad byte U+FFFD, three bytes once re-serialised: a body at the size limit tripled.
    text = STRICT_UTF8.decode(body);
  } catch {
    return 'the body is not UTF-8';
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return 'the body is not JSON';
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return 'the body is not a JSON object';
  const d = doc as Json;
  if (d.stream !== undefined && typeof d.stream !== 'boolean') return '`stream` must be true or false';
  const streamed = d.stream === true;
  if (streamed && upstream.protocol === 'openai-chat')
    d.stream_options = { ...(d.stream_options as object), include_usage: true };
  return { doc: d, body: Buffer.from(JSON.stringify(d)), streamed };
}

/**
 * Checks, forwards, streams back, records and charges one call, in a span under the activity
 * that opened the session: the call arrives from the sandbox, outside that activity's call chain.
 */
export function forwardModelCall(
  deps: ModelCallDeps,
  session: GatewaySession,
  req: ModelRequest,
  sink: ResponseSink,
): Promise<void> {
  // The path without its query: an agent may put anything there.
  const path = req.rest.split('?', 1)[0].slice(0, 200);
  const attributes = { 'arbiter.upstream': req.upstream.slice(0, 100), 'arbiter.model_path': path };
  return inSpan(
    'model call',
    attributes,
    (span) => forwardTraced(deps, session, req, statusOnSpan(sink, span), span),
    session.traceContext,
  );
}

/** `sink`, noting the answer's status on `span`: a refused call is an error span with its status. */
function statusOnSpan(sink: ResponseSink, span: Span): ResponseSink {
  return {
    write: (chunk) => sink.write(chunk),
    end: () => sink.end(),
    start(status, headers) {
      span.setAttribute('http.response.status_code', status);
      if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      sink.start(status, headers);
    },
  };
}

async function forwardTraced(
  deps: ModelCallDeps,
  session: GatewaySession,
  req: ModelRequest,
  sink: ResponseSink,
  span: Span,
): Promise<void> {
  const target = `${req.upstream}/${req.rest}`;
  const upstream = session.upstream(req.upstream);
  if (!upstream)
    return refuse(deps, session, sink, 403, {
      op: 'model',
      target,
      reason: `upstream '${req.upstream}' is not granted to this agent`,
    });
  if (!session.tokenMatches(presentedToken(req.headers)))
    return refuse(deps, session, sink, 401, { op: 'model', target, reason: 'missing or wrong gateway token' });
  const stopped = session.stopReason;
  if (stopped) return refuse(deps, session, sink, 429, { op: 'model', target, reason: stopped });
  const problem = modelPathProblem(upstream.protocol, req.method, req.rest);
  if (problem) return refuse(deps, session, sink, 403, { op: 'model', target, reason: problem });
  const read = forwardedBody(upstream, req.method, req.body);
  if (typeof read === 'string') return refuse(deps, session, sink, 400, { op: 'model', target, reason: read });
  const reach =
    offHostProblem(upstream.protocol, read.doc) ??
    (req.method === 'GET' ? undefined : (modelNotAllowed(upstream, read.doc) ?? premiumServingProblem(read.doc)));
  if (reach) return refuse(deps, session, sink, 403, { op: 'model', target, reason: reach });
  const elsewhere = keyDestinationRefusal(deps.modelKeys, upstream);
  if (elsewhere) return refuse(deps, session, sink, 403, { op: 'model', target, reason: elsewhere });
  const network = upstream.apiKeyEnv ? { fetch } : keylessUpstreamReach(upstream.baseUrl, deps.privateUpstreams);
  if ('refused' in network) return refuse(deps, session, sink, 403, { op: 'model', target, reason: network.refused });
  const key = upstream.apiKeyEnv ? deps.secretEnv(upstream.apiKeyEnv) : undefined;
  if (upstream.apiKeyEnv && !key)
    return refuse(deps, session, sink, 502, {
      op: 'model',
      target,
      reason: `the worker has no ${upstream.apiKeyEnv} for upstream '${upstream.name}'`,
    });
  const { body, streamed } = read;
  const started = Date.now();
  const url = `${upstream.baseUrl.replace(/\/$/, '')}/${req.rest}`;
  const call = {
    upstream,
    method: req.method,
    path: req.rest,
    body,
    streamed,
    started,
    maxOutput: req.method === 'GET' ? 0 : maxOutput(read.doc, req.rest.split('?', 1)[0]),
  };
  let response: Response;
  try {
    response = await network.fetch(url, {
      method: req.method,
      headers: upstreamHeaders(upstream, req.headers, key),
      body: req.method === 'GET' ? undefined : body,
      signal: req.signal ? AbortSignal.any([req.signal, session.closing]) : session.closing,
      // A redirect would carry the real key to wherever the upstream points: pass it back instead.
      redirect: 'manual',
    });
  } catch (err) {
    const inside = workerNetworkRefusal(err);
    if (inside) return refuse(deps, session, sink, 403, { op: 'model', target, reason: inside });
    if (session.closing.aborted || sent(err)) {
      // The upstream had the request, and bills it: recorded and charged as sent, with no reply.
      await recordCall(deps.db, session, span, call, {
        status: ABANDONED,
        reply: Buffer.alloc(0),
        total: 0,
        cut: true,
      });
      const why = session.closing.aborted ? 'the session closed' : maskKeyIn((err as Error).message, key);
      return writeError(sink, 502, `no reply from the upstream (${why}); the call is charged as sent`);
    }
    return refuse(deps, session, sink, 502, {
      op: 'model',
      target,
      // fetch names a header value it refuses, the key's among them (a key with a line break).
      reason: `upstream unreachable: ${maskKeyIn((err as Error).message, key)}`,
    });
  }
  response = await withoutKey(response, key);
  const contentType = maskKeyIn(response.headers.get('content-type') ?? 'application/json', key);
  sink.start(response.status, { 'content-type': contentType });
  const { reply, cut } = await readReply(response, sink);
  // Cut by the session's close, or by Arbiter's own loop giving up, the model may write on unseen (a reasoning model streams nothing while it thinks).
  const closedUnder = cut !== undefined && (session.closing.aborted || req.signal?.aborted === true);
  await recordCall(deps.db, session, span, call, { ...reply, closedUnder });
  if (cut) throw cut;
}
