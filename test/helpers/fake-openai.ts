/**
 * A real local HTTP server speaking the OpenAI chat-completions protocol, driven by a script.
 * The reply to a request is chosen by its turn (1 + the number of assistant messages already
 * in `messages`), so a retried request for the same turn gets the same reply. Every request is
 * recorded with how it ended; a turn's response can be held until the test releases it (to
 * kill a worker while it waits on the model), and a turn can be answered with an HTTP error.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One scripted tool call; `arguments` objects are sent JSON-encoded, strings as they are. */
export interface FakeToolCall {
  id?: string;
  name: string;
  arguments: unknown;
}

/** What the model answers on one turn. */
export interface FakeReply {
  content?: string | null;
  toolCalls?: FakeToolCall[];
  usage?: { prompt: number; completion: number };
}

/** A chat message as the client sent it. */
export interface ChatMessage {
  role: string;
  content?: string | null;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
}

/** Turn-indexed replies (turn 1 is index 0), or a function of the turn. */
export type FakeScript = FakeReply[] | ((turn: number, messages: ChatMessage[]) => FakeReply);

/** How a request ended: answered (completed), refused with an error status, or dropped by the client first. */
export type RequestOutcome = 'pending' | 'completed' | 'error' | 'unauthorized' | 'aborted';

/** One request the server received. */
export interface RecordedRequest {
  turn: number;
  model: string;
  messages: ChatMessage[];
  tools: Array<{ type: string; function: { name: string } }>;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  outcome: RequestOutcome;
  status?: number;
}

/** The `error` object of a scripted failure's body, as the real API words one. */
export interface FakeError {
  message: string;
  type: string;
  code?: string;
}

/** Options of {@link startFakeOpenAI}. */
export interface FakeOpenAIOptions {
  script: FakeScript;
  /** When set, requests must carry `authorization: Bearer <apiKey>` or get a 401. */
  apiKey?: string;
}

/** The running server. */
export interface FakeOpenAI {
  /** Base URL for the agent config, ending in `/v1`. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Requests for `turn`, in arrival order. */
  requestsFor(turn: number): RecordedRequest[];
  /** Responses for `turn` that were fully delivered to a live client. */
  completed(turn: number): number;
  /** Holds every response for `turn` (pending requests and new ones) until {@link release}. */
  hold(turn: number): void;
  /** Answers the held requests of `turn` whose clients are still connected, and stops holding it. */
  release(turn: number): void;
  /** Answers the next `times` requests for `turn` with HTTP `status` (and `error` as its body's error). */
  failTurn(turn: number, status: number, times?: number, error?: FakeError): void;
  /** Resolves with the `n`th request (1-based) for `turn` once it has arrived. */
  waitForRequest(turn: number, n?: number, timeoutMs?: number): Promise<RecordedRequest>;
  close(): Promise<void>;
}

/** The feature most tests ask for: `src/feature.js` exporting a function that returns 42. */
export const FEATURE_SOURCE = 'module.exports = () => 42;\n';

/** A model that writes {@link FEATURE_SOURCE} on its first turn and says it is done on its second. */
export const WRITES_FEATURE: FakeReply[] = [
  { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE_SOURCE } }] },
  { content: 'Done.' },
];

function replyFor(script: FakeScript, turn: number, messages: ChatMessage[]): FakeReply {
  if (typeof script === 'function') return script(turn, messages);
  const reply = script[turn - 1];
  if (!reply) throw new Error(`the script has no reply for turn ${turn}`);
  return reply;
}

function completion(model: string, turn: number, reply: FakeReply) {
  const toolCalls = (reply.toolCalls ?? []).map((c, i) => ({
    id: c.id ?? `call_${turn}_${i}`,
    type: 'function',
    function: { name: c.name, arguments: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments) },
  }));
  const usage = reply.usage ?? { prompt: 100 + turn, completion: 10 + turn };
  return {
    id: `chatcmpl-fake-${turn}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.content ?? (toolCalls.length ? null : 'done'),
          ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
      },
    ],
    usage: {
      prompt_tokens: usage.prompt,
      completion_tokens: usage.completion,
      total_tokens: usage.prompt + usage.completion,
    },
  };
}

/** Starts the server on 127.0.0.1 at a random port. */
export async function startFakeOpenAI(options: FakeOpenAIOptions): Promise<FakeOpenAI> {
  const requests: RecordedRequest[] = [];
  const held = new Map<number, Array<() => void>>();
  const failures = new Map<number, { status: number; times: number; error?: FakeError }>();
  const arrivals: Array<() => void> = [];

  const send = (
    res: http.ServerResponse,
    record: RecordedRequest,
    status: number,
    body: unknown,
    outcome: RequestOutcome,
  ) => {
    if (res.destroyed || res.socket?.destroyed || record.outcome === 'aborted') {
      record.outcome = 'aborted';
      return;
    }
    record.status = status;
    res.on('finish', () => {
      if (record.outcome === 'pending') record.outcome = outcome;
    });
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
        return;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { message: 'body is not JSON' } }));
        return;
      }
      const messages = (body.messages as ChatMessage[] | undefined) ?? [];
      const turn = messages.filter((m) => m.role === 'assistant').length + 1;
      const record: RecordedRequest = {
        turn,
        model: String(body.model),
        messages,
        tools: (body.tools as RecordedRequest['tools'] | undefined) ?? [],
        headers: req.headers,
        body,
        outcome: 'pending',
      };
      requests.push(record);
      res.on('close', () => {
        if (!res.writableFinished && record.outcome === 'pending') record.outcome = 'aborted';
      });
      for (const wake of arrivals.splice(0)) wake();

      const answer = () => {
        if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
          send(
            res,
            record,
            401,
            {
              error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' },
            },
            'unauthorized',
          );
          return;
        }
        const failure = failures.get(turn);
        if (failure && failure.times > 0) {
          failure.times -= 1;
          send(
            res,
            record,
            failure.status,
            {
              error: failure.error ?? {
                message: `scripted failure ${failure.status} on turn ${turn}`,
                type: 'server_error',
              },
            },
            'error',
          );
          return;
        }
        let reply: FakeReply;
        try {
          reply = replyFor(options.script, turn, messages);
        } catch (err) {
          send(res, record, 500, { error: { message: (err as Error).message } }, 'error');
          return;
        }
        send(res, record, 200, completion(record.model, turn, reply), 'completed');
      };
      const queue = held.get(turn);
      if (queue) queue.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const requestsFor = (turn: number) => requests.filter((r) => r.turn === turn);
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    requestsFor,
    completed: (turn) => requestsFor(turn).filter((r) => r.outcome === 'completed').length,
    hold(turn) {
      if (!held.has(turn)) held.set(turn, []);
    },
    release(turn) {
      const queue = held.get(turn) ?? [];
      held.delete(turn);
      for (const answer of queue) answer();
    },
    failTurn(turn, status, times = 1, error) {
      failures.set(turn, { status, times, error });
    },
    async waitForRequest(turn, n = 1, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = requestsFor(turn)[n - 1];
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(
            `fake model: request ${n} for turn ${turn} never arrived (saw turns ${requests.map((r) => r.turn).join(',') || 'none'})`,
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          arrivals.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close() {
      for (const turn of [...held.keys()]) held.delete(turn);
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
