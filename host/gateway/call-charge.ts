/**
 * What a forwarded model call is charged and how it is recorded: the reply read as the agent
 * reads it, its usage found at its start and end, and the call stored with its bodies (cut at
 * 1 MiB) and digests, charged to its session's budgets.
 */
import { createHash } from 'node:crypto';
import type { Span } from '@opentelemetry/api';
import type { Db } from '../../db/client';
import { recordModelCall } from '../../db/model-calls';
import type { GatewayProtocol, GatewayUpstream } from '../../domain/agent';
import { costOf } from '../../domain/model-cost';
import { tokenCount, usageDocuments, usageOfDocuments, type ModelUsage } from '../../domain/model-usage';
import { documentsShapeProblem } from './json-shape';
import type { GatewaySession } from './session';

const STORED_BODY_BYTES = 1024 * 1024;
/** The status recorded for a call its session closed under before the upstream answered (nginx's "client closed"). */
export const ABANDONED = 499;
/** The response's start and end are read for usage (a stream reports it in its first and last events). */
const USAGE_SCAN_BYTES = 16 * 1024 * 1024;
const USAGE_TAIL_BYTES = 1024 * 1024;

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** One forwarded call, as the gateway sent it. */
interface SentCall {
  upstream: GatewayUpstream;
  method: string;
  /** The path after `/u/<upstream>/`, with its query. */
  path: string;
  body: Buffer;
  streamed: boolean;
  started: number;
  /** The output tokens the request allows (`max_tokens` and its kin, or a default when it names none); 0 for a call that writes none. */
  maxOutput: number;
}

/** What came back: the reply's start (and end, when long), its length and digest, and whether it was cut short. */
interface Reply {
  status: number;
  reply: Buffer;
  ends?: Buffer;
  total: number;
  digest?: string;
  cut: boolean;
  /** Cut by the session closing or Arbiter's own loop giving up, not by the upstream: it may write on, unseen, and bill it. */
  closedUnder?: boolean;
}

/**
 * Passes `response` on to `sink` as it reads it, keeping its first {@link USAGE_SCAN_BYTES} and
 * last {@link USAGE_TAIL_BYTES} for the usage and hashing all of it. `cut` is what broke it off
 * (the session closed, the upstream failed mid-answer): what arrived is still charged.
 */
export async function readReply(
  response: Response,
  sink: { write(chunk: Uint8Array): void | Promise<void>; end(): void },
): Promise<{ reply: Reply; cut?: unknown }> {
  const hash = createHash('sha256');
  const head: Buffer[] = [];
  let headBytes = 0;
  let tail: Buffer[] = [];
  let tailBytes = 0;
  let total = 0;
  let cut: unknown;
  try {
    for await (const chunk of response.body ?? []) {
      const buf = Buffer.from(chunk as Uint8Array);
      await sink.write(buf);
      hash.update(buf);
      total += buf.length;
      if (headBytes < USAGE_SCAN_BYTES) {
        head.push(buf);
        headBytes += buf.length;
        continue;
      }
      tail.push(buf);
      tailBytes += buf.length;
      if (tailBytes > 2 * USAGE_TAIL_BYTES) {
        tail = [Buffer.concat(tail).subarray(-USAGE_TAIL_BYTES)];
        tailBytes = USAGE_TAIL_BYTES;
      }
    }
  } catch (err) {
    cut = err;
  } finally {
    sink.end();
  }
  const reply: Reply = {
    status: response.status,
    reply: Buffer.concat(head),
    ends: tail.length ? Buffer.concat(tail).subarray(-USAGE_TAIL_BYTES) : undefined,
    total,
    digest: `sha256:${hash.digest('hex')}`,
    cut: cut !== undefined,
  };
  return { reply, cut };
}

/**
 * What a successful reply is charged: its reported usage, or, when a reply too long to scan whole
 * (over {@link USAGE_SCAN_BYTES}) showed none where it was looked for, its length at four bytes a
 * token. An agent asking for such replies on purpose (`logprobs`, `n`) was charged nothing.
 */
function chargedUsage(reported: ModelUsage, replyBytes: number): ModelUsage {
  if (replyBytes <= USAGE_SCAN_BYTES || reported.inputTokens + reported.outputTokens > 0) return reported;
  return byLength(replyBytes);
}

/** A reply charged by its length, four bytes a token. */
const byLength = (replyBytes: number): ModelUsage => ({ inputTokens: 0, outputTokens: Math.ceil(replyBytes / 4) });

/**
 * Whether `docs` parse within the values a request may hold ({@link documentsShapeProblem}). Parsing
 * costs the worker's main thread by values, not bytes: a key-less upstream of a tenant's answered 8
 * calls with 16 MiB of empty objects each, which held the thread 26 s (every activity's heartbeat
 * on it) and, reporting no usage, cost nothing (found in review). Such a reply is charged by length.
 */
const parsable = (docs: readonly string[]) => documentsShapeProblem(docs) === undefined;

/** Keys whose strings are the model's own output in a streamed event (text, tool arguments, thinking). */
const TEXT_KEYS = new Set(['content', 'text', 'arguments', 'partial_json', 'thinking', 'refusal', 'delta']);

/**
 * The length of the model's own text in an event stream, without the events' framing: each
 * event is some 200 bytes for a token or two, so the stream's length overstates its tokens fifty times.
 */
function streamedTextLength(stream: string): number {
  const events = stream
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => line.slice(5));
  if (!parsable(events)) return stream.length;
  let length = 0;
  for (const event of events) {
    let doc: unknown;
    try {
      doc = JSON.parse(event);
    } catch {
      continue;
    }
    const pending = [doc];
    while (pending.length) {
      const v = pending.pop();
      if (!v || typeof v !== 'object') continue;
      for (const [key, x] of Object.entries(v)) {
        if (typeof x !== 'string') pending.push(x);
        else if (TEXT_KEYS.has(key)) length += x.length;
      }
    }
  }
  return length;
}

/**
 * What a call is charged: see {@link chargedUsage}. A call cut short (the session closed under
 * it, the upstream broke off) is charged at least its request, and what arrived of its reply, at
 * four characters a token; one the upstream had not answered, or whose reply the session's close
 * (or Arbiter's own loop) cut before any of it came, the output its request allowed. The upstream took the request and bills it:
 * an agent that ended its run with calls in flight was charged nothing for them (or, for an
 * Anthropic stream, one token of output), and one whose streams had opened, what had arrived.
 */
function usageCharged(protocol: GatewayProtocol, sent: SentCall, got: Reply): ModelUsage {
  const answered = got.status >= 200 && got.status < 300;
  if (!answered && got.status !== ABANDONED) return { inputTokens: 0, outputTokens: 0 };
  const text = got.reply.toString('utf8');
  const scanned = got.ends ? `${text}\n${got.ends.toString('utf8')}` : text;
  const docs = usageDocuments(scanned);
  const reported = parsable(docs) ? chargedUsage(usageOfDocuments(protocol, docs), got.total) : byLength(got.total);
  if (!got.cut) return reported;
  const arrived = Math.ceil((sent.streamed ? streamedTextLength(scanned) : got.total) / 4);
  return {
    ...reported,
    inputTokens: reported.inputTokens || Math.ceil(sent.body.length / 4),
    outputTokens: Math.max(reported.outputTokens, unseen(got, arrived) ? sent.maxOutput : arrived),
  };
}

/**
 * Whether the model may have written all its request allowed without any of it arriving: the
 * upstream never answered, or the session's close (or Arbiter's own loop) cut a reply that had
 * brought no text yet (a reasoning model thinks before it streams a word). Its usage so far says
 * nothing: an Anthropic stream opens with one output token counted.
 */
function unseen(got: Reply, arrived: number): boolean {
  return got.status === ABANDONED || (got.closedUnder === true && arrived === 0);
}

/** Charges the session for a call and records it, with its span's usage attributes. */
export async function recordCall(db: Db, session: GatewaySession, span: Span, sent: SentCall, got: Reply) {
  const { upstream, body } = sent;
  const charged = usageCharged(upstream.protocol, sent, got);
  const { cache } = charged;
  const usage = {
    ...charged,
    inputTokens: tokenCount(charged.inputTokens),
    outputTokens: tokenCount(charged.outputTokens),
    ...(cache
      ? {
          cache: {
            read: tokenCount(cache.read),
            shortWrites: tokenCount(cache.shortWrites),
            longWrites: tokenCount(cache.longWrites),
          },
        }
      : {}),
  };
  const costUsd = costOf(usage, upstream.pricing);
  session.charge(usage, costUsd);
  span.setAttributes({
    'gen_ai.usage.input_tokens': usage.inputTokens,
    'gen_ai.usage.output_tokens': usage.outputTokens,
    'arbiter.cost_usd': costUsd,
  });
  const { tenantId, taskId, runId, agentId, purpose } = session.identity;
  await recordModelCall(db, {
    tenantId,
    taskId,
    runId,
    agentId,
    purpose,
    sessionId: session.id,
    upstream: upstream.name,
    protocol: upstream.protocol,
    method: sent.method,
    path: sent.path,
    model: usage.model,
    status: got.status,
    streamed: sent.streamed,
    requestDigest: digest(body),
    responseDigest: got.digest ?? digest(got.reply),
    requestBody: body.subarray(0, STORED_BODY_BYTES).toString('utf8'),
    responseBody: got.reply.toString('utf8').slice(0, STORED_BODY_BYTES),
    truncated: body.length > STORED_BODY_BYTES || got.total > STORED_BODY_BYTES,
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    costUsd,
    latencyMs: Date.now() - sent.started,
  });
}
