/**
 * A real local HTTP server that speaks the three model protocols the gateway knows (Anthropic
 * messages, OpenAI responses, OpenAI chat completions) on one port, replies with the test's
 * scripted tool-calling conversation, and records every request it gets — including the
 * extra ones real CLIs make (titles, quota probes, token counts, model lists), which it
 * answers plausibly so the CLI carries on. A leading `/u/<upstream>` (the gateway's path
 * shape) is accepted and stripped, so the same fake can stand behind or in place of it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicMessages } from './anthropic';
import { openaiChat } from './openai-chat';
import { openaiResponses } from './openai-responses';
import type { Output, ProtocolModule } from './protocol';
import {
  defaultUsage,
  replyFor,
  SIDE_USAGE,
  type ConversationScript,
  type FakeProtocol,
  type RecordedRequest,
  type ScriptedUsage,
} from './script';

const PROTOCOLS: ProtocolModule[] = [anthropicMessages, openaiResponses, openaiChat];

/** Options of {@link startFakeModels}. */
export interface FakeModelsOptions {
  script: ConversationScript;
  /** When set, requests must carry it as `x-api-key` or `Authorization: Bearer`, or get a 401. */
  apiKey?: string;
  /** The text side requests (no tools offered: titles, summaries, probes) get. */
  sideText?: string;
}

/** The running server. */
export interface FakeModels {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  origin: string;
  requests: RecordedRequest[];
  /** The scripted conversation's requests (optionally of one protocol), in arrival order. */
  turns(protocol?: FakeProtocol): RecordedRequest[];
  /** Tokens of every answered request of `kind` (default: all answered requests). */
  usage(kind?: RecordedRequest['kind']): ScriptedUsage;
  /** `METHOD path` of every request, for a readable assertion message. */
  summary(): string[];
  close(): Promise<void>;
}

function output(res: http.ServerResponse, record: RecordedRequest): Output {
  return {
    json(status, body) {
      record.status = status;
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
    sse() {
      record.status = 200;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      return {
        event(name, data) {
          res.write(`${name ? `event: ${name}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
        },
        raw(data) {
          res.write(`data: ${data}\n\n`);
        },
        end() {
          res.end();
        },
      };
    },
  };
}

function authorized(headers: http.IncomingHttpHeaders, key: string | undefined): boolean {
  return key === undefined || headers['x-api-key'] === key || headers.authorization === `Bearer ${key}`;
}

const MODELS = {
  object: 'list',
  data: [
    {
      id: 'fake-model',
      object: 'model',
      type: 'model',
      display_name: 'Fake',
      created: 1_700_000_000,
      owned_by: 'fake',
    },
  ],
  has_more: false,
  models: [],
};

/** Requests real CLIs make besides the conversation, answered so they carry on. */
const EXTRA_ROUTES = [
  { method: 'POST', path: /^\/(v1\/)?messages\/count_tokens$/, body: { input_tokens: 42 } },
  { method: 'GET', path: /^\/(v1\/)?models$/, body: MODELS },
];

/** Starts the server on 127.0.0.1 at a random port. */
export async function startFakeModels(options: FakeModelsOptions): Promise<FakeModels> {
  const requests: RecordedRequest[] = [];

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, raw: string) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').replace(/^\/u\/[^/]+/, '').split('?')[0];
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : '';
    } catch {
      // recorded as text
    }
    const record: RecordedRequest = {
      method,
      path: req.url ?? '/',
      headers: req.headers,
      body,
      kind: 'other',
      outcome: 'pending',
    };
    requests.push(record);
    res.on('close', () => {
      if (record.outcome === 'pending') record.outcome = res.writableFinished ? 'completed' : 'aborted';
    });
    const module = PROTOCOLS.find((p) => p.matches(method, path));
    const out = output(res, record);
    const extra = EXTRA_ROUTES.find((r) => r.method === method && r.path.test(path));
    // Unknown paths are answered (and recorded) whatever the credentials: CLIs probe them unauthenticated.
    if (!module && !extra) {
      record.outcome = 'not-found';
      out.json(404, { error: { type: 'not_found_error', message: `no route ${method} ${path}` } });
      return;
    }
    if (!authorized(req.headers, options.apiKey)) {
      record.outcome = 'unauthorized';
      out.json(401, (module ?? anthropicMessages).error(401, 'invalid x-api-key / bearer token'));
      return;
    }
    if (!module) {
      out.json(200, extra!.body);
      return;
    }
    const json = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const tools = module.tools(json);
    const model = String(json.model ?? 'fake-model');
    const stream = json.stream === true;
    Object.assign(record, { protocol: module.protocol, model, stream, kind: tools.length ? 'turn' : 'side' });
    try {
      if (record.kind === 'side') {
        record.usage = SIDE_USAGE;
        module.respond(out, {
          model,
          turn: 0,
          reply: { text: options.sideText ?? 'Fake title' },
          usage: SIDE_USAGE,
          stream,
          body: json,
        });
        return;
      }
      const turn = module.turnOf(json);
      record.turn = turn;
      const reply = replyFor(options.script, { protocol: module.protocol, turn, model, tools, body: json });
      record.usage = reply.usage ?? defaultUsage(turn);
      module.respond(out, { model, turn, reply, usage: record.usage, stream, body: json });
    } catch (err) {
      record.outcome = 'error';
      record.usage = undefined;
      out.json(500, module.error(500, (err as Error).message));
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    turns: (protocol) => requests.filter((r) => r.kind === 'turn' && (!protocol || r.protocol === protocol)),
    usage(kind) {
      const answered = requests.filter((r) => r.usage && r.outcome === 'completed' && (!kind || r.kind === kind));
      return answered.reduce((t, r) => ({ input: t.input + r.usage!.input, output: t.output + r.usage!.output }), {
        input: 0,
        output: 0,
      });
    },
    summary: () =>
      requests.map((r) => `${r.method} ${r.path} ${r.kind}${r.turn ? ` turn ${r.turn}` : ''} ${r.status ?? ''}`),
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
