/**
 * Attacks on the model gateway from inside the real bwrap sandbox, each against the real
 * gateway, bridge, relay and PostgreSQL: spending without being charged (cut streams, usage past
 * the scan window, bodies the upstream reads differently, pipelined calls), making the upstream
 * or the proxy reach other hosts, flooding a link the sandbox stops reading, and putting
 * control characters in what the audit and the verdict quote.
 */
import { runBehindGateway, startTestGateway } from './helpers';
import { openGatewayBridge } from '../../host/gateway/bridge';
import { dataFrames, encodeFrame, FRAME } from '../../host/gateway/inside/mux';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, asc, eq } from 'drizzle-orm';
import { sandboxEvents } from '../../db/schema';
import { gatewaySummary, modelCallsOf } from '../../db/model-calls';
import type { ModelGateway } from '../../host/gateway/server';
import { gatewayUrl } from '../../host/gateway/launch';
import { UNNAMED_OUTPUT_LIMIT } from '../../host/gateway/model-call';
import {
  MAX_RECORDED_REFUSALS,
  type GatewaySession,
  type SessionGrant,
  type SessionIdentity,
} from '../../host/gateway/session';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { sandboxTask, type SandboxTask } from '../sandbox/escape-helpers';

/** How the fake upstream answers. */
interface UpstreamScript {
  /** Streamed events before the final usage, and the pause between them. */
  chunks: number;
  chunkDelayMs: number;
  /** Text per streamed event. */
  padding: number;
  /** Pause before a whole (non-streamed) answer. */
  holdMs: number;
}

/** A local upstream speaking the three protocols, as leniently as a Python server (NaN, "true" as true). */
interface FakeUpstream {
  url: string;
  bodies: string[];
  maxInFlight: number;
  /** Bytes of streamed events the gateway has taken (the upstream waits whenever it stops taking them). */
  sentBytes: number;
  script: UpstreamScript;
  close(): Promise<void>;
}

const DEFAULT_SCRIPT: UpstreamScript = { chunks: 3, chunkDelayMs: 0, padding: 1, holdMs: 0 };

/** Resolves when `res` drains or closes. */
function drainOrClose(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}

async function startUpstream(): Promise<FakeUpstream> {
  let inFlight = 0;
  const up: FakeUpstream = {
    url: '',
    bodies: [],
    maxInFlight: 0,
    sentBytes: 0,
    script: { ...DEFAULT_SCRIPT },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const sse = async (res: http.ServerResponse, first: object[], events: (i: number) => object, last: object[]) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const e of first) res.write(`data: ${JSON.stringify(e)}\n\n`);
    for (let i = 0; i < up.script.chunks && !res.destroyed; i++) {
      const event = `data: ${JSON.stringify(events(i))}\n\n`;
      up.sentBytes += event.length;
      if (!res.write(event) && !res.destroyed) await drainOrClose(res);
      await pause(up.script.chunkDelayMs);
    }
    for (const e of last) res.write(`data: ${JSON.stringify(e)}\n\n`);
    res.end('data: [DONE]\n\n');
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      up.bodies.push(text);
      inFlight++;
      up.maxInFlight = Math.max(up.maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      const doc = (text ? JSON.parse(text.replace(/\bNaN\b/g, 'null')) : {}) as Record<string, unknown>;
      const pad = 'x'.repeat(up.script.padding);
      void (async () => {
        if (req.url?.endsWith('/messages')) {
          if (!doc.stream) {
            await pause(up.script.holdMs);
            return void res.end(JSON.stringify({ model: 'm', usage: { input_tokens: 50, output_tokens: 5 } }));
          }
          const start = {
            type: 'message_start',
            message: { model: 'm', usage: { input_tokens: 50, output_tokens: 1 } },
          };
          return sse(res, [start], () => ({ type: 'content_block_delta', delta: { type: 'text_delta', text: pad } }), [
            { type: 'message_delta', usage: { output_tokens: 777 } },
          ]);
        }
        if (req.url?.endsWith('/responses')) {
          await pause(up.script.holdMs);
          return void res.end(JSON.stringify({ model: 'm', usage: { input_tokens: 30, output_tokens: 3 } }));
        }
        const usage = { prompt_tokens: 40, completion_tokens: 999 };
        if (!doc.stream) {
          await pause(up.script.holdMs);
          return void res.end(JSON.stringify({ model: 'm', choices: [], usage }));
        }
        const wantsUsage = (doc.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
        return sse(
          res,
          [],
          () => ({ model: 'm', choices: [{ delta: { content: pad } }] }),
          wantsUsage ? [{ model: 'm', choices: [], usage }] : [],
        );
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

/** A node program run in the sandbox; `body` runs inside an async function with `base`, `token` and `sleep`. */
const nodeAgent = (body: string): string[] => [
  'node',
  '-e',
  `const base = process.env.GW; const token = process.env.TOKEN; const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
   (async () => { ${body} })().catch((e) => { console.log('ERR', e.message, String(e.cause)); process.exit(3); });`,
];

/** In a sandboxed agent: `send(body)` posts a chat completion to the gateway and prints its status and the reply's start. */
const SEND_CHAT = `const send = async (body) => {
  const res = await fetch(base + '/chat/v1/chat/completions', { method: 'POST', body,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } });
  console.log('STATUS', res.status, (await res.text()).slice(0, 80).replace(/\\n/g, ' '));
};`;

describe('attacks on the model gateway', function () {
  this.timeout(120_000);
  let gateway: ModelGateway;
  let upstream: FakeUpstream;
  let t: SandboxTask;
  let runs = 0;

  before(async () => {
    gateway = await startTestGateway();
    upstream = await startUpstream();
    t = await sandboxTask();
  });
  after(async () => {
    await t.release();
    await upstream.close();
    await gateway.close();
  });
  beforeEach(() => {
    upstream.script = { ...DEFAULT_SCRIPT };
    upstream.bodies = [];
    upstream.maxInFlight = 0;
    upstream.sentBytes = 0;
  });

  const grant = (budgets: SessionGrant['budgets'] = {}): SessionGrant => ({
    upstreams: [
      { name: 'chat', protocol: 'openai-chat', baseUrl: `${upstream.url}/v1`, apiKeyEnv: 'FAKE_KEY' },
      { name: 'claude', protocol: 'anthropic-messages', baseUrl: upstream.url, apiKeyEnv: 'FAKE_KEY' },
      { name: 'resp', protocol: 'openai-responses', baseUrl: `${upstream.url}/v1`, apiKeyEnv: 'FAKE_KEY' },
    ],
    registries: [],
    budgets,
  });

  const identity = (purpose: SessionIdentity['purpose'] = 'agent'): SessionIdentity => ({
    tenantId: t.tenantId,
    taskId: t.taskId,
    runId: `run-${++runs}`,
    agentId: 'agent-1',
    purpose,
  });

  const inSandbox = (session: GatewaySession, argv: string[], timeoutMs = 30_000) =>
    runBehindGateway(t, gateway, session, argv, {
      timeoutMs,
      env: { GW: gatewayUrl('x').replace(/\/x$/, ''), TOKEN: session.token },
    });

  const gatewayEvents = async (runId: string) =>
    (
      await testStack()
        .database.db.select()
        .from(sandboxEvents)
        .where(and(eq(sandboxEvents.taskId, t.taskId), eq(sandboxEvents.kind, 'gateway')))
        .orderBy(asc(sandboxEvents.id))
    ).filter((r) => (r.detail as { runId?: string }).runId === runId);

  const callsOf = (session: GatewaySession) =>
    modelCallsOf(testStack().database.db, t.tenantId, t.taskId, session.identity.runId);

  it('charges a stream the agent cuts before its usage arrives', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, chunks: 10, chunkDelayMs: 100 };
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const abort = new AbortController();
        const res = await fetch(base + '/claude/v1/messages', { method: 'POST', signal: abort.signal,
          headers: { 'x-api-key': token, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', max_tokens: 1000, stream: true, messages: [{ role: 'user', content: 'long' }] }) });
        const reader = res.body.getReader();
        console.log('FIRST', new TextDecoder().decode((await reader.read()).value).slice(0, 40));
        abort.abort();
        await sleep(3000);
        console.log('DONE');`),
    );
    assert.match(run.outputTail, /FIRST[\s\S]*DONE/, run.outputTail);
    const calls = await callsOf(session);
    assert.equal(calls.length, 1, 'the cut call is recorded');
    assert.equal(calls[0].inputTokens, 50);
    assert.equal(calls[0].outputTokens, 777, 'and charged for all the upstream produced');
    assert.equal(session.totals.tokens, 827);
  });

  // Before: a call the session closed under was a refusal (no call, nothing charged), a cut stream without usage cost 0.
  it('charges the calls in flight when the session closes: unanswered ones as sent, cut streams by what arrived', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, chunks: 100, chunkDelayMs: 100, holdMs: 5000, padding: 400 };
    const session = await gateway.openSession(identity(), grant({ maxTokens: 2000 }));
    const run = await inSandbox(
      session,
      nodeAgent(`
        const ask = (path, stream, limit = { max_tokens: 300 }) => fetch(base + path, { method: 'POST',
          headers: { authorization: 'Bearer ' + token, 'x-api-key': token, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream, ...limit, messages: [{ role: 'user', content: 'x'.repeat(4000) }] }) });
        ask('/chat/v1/chat/completions', false).catch(() => undefined);
        ask('/resp/v1/responses', false, {}).catch(() => undefined);
        const streams = [await ask('/chat/v1/chat/completions', true), await ask('/claude/v1/messages', true)];
        for (const res of streams) await res.body.getReader().read();
        await sleep(300);
        console.log('SENT');
        process.exit(0);`),
    );
    assert.match(run.outputTail, /SENT/, run.outputTail);
    await gateway.closeSession(session.id);
    const calls = await callsOf(session);
    assert.equal(calls.length, 4, JSON.stringify(calls.map((c) => c.status)));
    const unanswered = calls.find((c) => !c.streamed && c.protocol === 'openai-chat');
    assert.equal(unanswered?.status, 499);
    assert.ok((unanswered?.inputTokens ?? 0) >= 1000, `charged ${unanswered?.inputTokens} tokens for 4 KB sent`);
    assert.equal(unanswered?.outputTokens, 300, 'and the output its request allowed');
    // Before: a request naming no limit was charged no output at all.
    const unlimited = calls.find((c) => c.protocol === 'openai-responses');
    assert.equal(unlimited?.outputTokens, UNNAMED_OUTPUT_LIMIT, 'a request naming no limit, the default one');
    const cuts = calls.filter((c) => c.streamed);
    assert.deepEqual(
      cuts.map((c) => c.protocol).sort(),
      ['anthropic-messages', 'openai-chat'],
      'both streams recorded as cut streams',
    );
    for (const cut of cuts) {
      assert.ok(cut.inputTokens >= 50, `the cut ${cut.protocol} stream charged ${cut.inputTokens} tokens in`);
      // The Anthropic stream's opening event reports one token of output: what arrived counts over it.
      assert.ok(cut.outputTokens >= 100, `and ${cut.outputTokens} out for what arrived`);
      assert.ok(cut.outputTokens < 2000, `not the stream's framing (${cut.outputTokens})`);
    }
    // Charged as the session closed, the calls crossed its token budget: the run stops for it.
    assert.match(session.stoppedFor ?? '', /token budget exceeded/);
  });

  it('counts the usage at the end of a response longer than the usage scan window', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, chunks: 270, padding: 64 * 1024 };
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const res = await fetch(base + '/chat/v1/chat/completions', { method: 'POST',
          headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'pad' }] }) });
        console.log('STATUS', res.status, (await res.text()).length);`),
    );
    assert.match(run.outputTail, /STATUS 200 1[78]\d{6}/, run.outputTail);
    const calls = await callsOf(session);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].outputTokens, 999, 'the usage after 16 MB is counted');
  });

  it('refuses calls pipelined past the in-flight cap instead of sending them all upstream at once', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, holdMs: 1000 };
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
        const req = 'POST /u/chat/v1/chat/completions HTTP/1.1\\r\\nhost: x\\r\\nauthorization: Bearer ' + token +
          '\\r\\ncontent-type: application/json\\r\\ncontent-length: ' + body.length + '\\r\\n\\r\\n' + body;
        const s = require('net').connect(8377, '127.0.0.1', () => s.write(req.repeat(40)));
        let seen = '';
        s.on('data', (c) => (seen += c));
        await sleep(4000);
        console.log('OK', (seen.match(/HTTP\\/1.1 200/g) || []).length, 'REFUSED', (seen.match(/HTTP\\/1.1 429/g) || []).length);
        s.destroy();`),
    );
    assert.match(run.outputTail, /OK \d+ REFUSED [1-9]\d*/, run.outputTail);
    assert.ok(upstream.maxInFlight <= 8, `the upstream had ${upstream.maxInFlight} calls of one session at once`);
    const reasons = (await gatewayEvents(session.identity.runId)).map((e) => e.reason ?? '');
    assert.ok(
      reasons.some((r) => /calls at once/.test(r)),
      reasons.join('; '),
    );
  });

  // Before: eight calls of 32 MiB each held about a gigabyte of the worker's memory while the upstream kept them waiting.
  it('refuses a call whose body would take the session past 64 MiB of requests in flight', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, holdMs: 10_000 };
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(22 * 1024 * 1024) }] });
        const post = () => fetch(base + '/chat/v1/chat/completions', { method: 'POST', body: big,
          headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } }).then((r) => r.status);
        console.log('STATUSES', (await Promise.all([post(), post(), post()])).sort().join(','));`),
      60_000,
    );
    assert.match(run.outputTail, /STATUSES 200,200,429/, run.outputTail);
    const reasons = (await gatewayEvents(session.identity.runId)).map((e) => e.reason);
    assert.deepEqual(reasons, ['more than 64 MiB of requests at once']);
  });

  // Each refusal was a row written for free, as fast as the agent could pipeline requests.
  it('records a flood of refused requests as a thousand rows and one count, and the verdict states them all', async () => {
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const s = require('net').connect(8377, '127.0.0.1', () => s.write('GET /nowhere HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n'.repeat(1500)));
        let seen = '';
        s.on('data', (c) => (seen += c));
        const refused = () => (seen.match(/HTTP\\/1.1 404/g) || []).length;
        for (let i = 0; i < 200 && refused() < 1500; i++) await sleep(100);
        console.log('REFUSED', refused());
        s.destroy();`),
    );
    assert.match(run.outputTail, /REFUSED 1500/, run.outputTail);
    await gateway.closeSession(session.id);
    const rows = (await gatewayEvents(session.identity.runId)).sort((a, b) => a.id - b.id);
    assert.equal(rows.length, MAX_RECORDED_REFUSALS + 1);
    assert.match(rows.at(-1)?.reason ?? '', /^500 more requests refused, past the 1000 recorded one by one$/);
    const summary = await gatewaySummary(testStack().database.db, t.tenantId, t.taskId, session.identity.runId);
    assert.equal(summary.refusals, 1500);
  });

  it("cannot take its relay's link: pidfd_getfd is refused", async () => {
    const session = await gateway.openSession(identity(), grant());
    const py = `
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pidfd = libc.syscall(434, os.getppid(), 0)
fd = libc.syscall(438, pidfd, 4, 0)
print('PIDFD', pidfd, 'FD', fd, ctypes.get_errno(), flush=True)
`;
    const run = await inSandbox(session, ['python3', '-c', py]);
    assert.match(run.outputTail, /PIDFD [0-9]+ FD -1 1\b/, run.outputTail);
  });

  it('stops reading a link whose sandbox floods it and never reads back', async () => {
    const session = await gateway.openSession(identity(), grant());
    // As if the agent held the link itself: requests whose refusals echo 8 KB each, never read.
    const bridge = await openGatewayBridge(gateway.socketPath, session.id);
    const link = bridge.childEnd;
    link.pause();
    const data = Buffer.from(`GET http://${'h'.repeat(8000)}.example/ HTTP/1.1\r\nhost: x\r\n\r\n`.repeat(2000));
    link.write(encodeFrame(FRAME.open, 900));
    for (const frame of dataFrames(900, data)) link.write(frame);
    let served = -1;
    for (let now = (await gatewayEvents(session.identity.runId)).length; now !== served;) {
      served = now;
      await new Promise((r) => setTimeout(r, 1500));
      now = (await gatewayEvents(session.identity.runId)).length;
    }
    link.destroy();
    bridge.close();
    assert.ok(served > 0, 'the flood reached the gateway');
    assert.ok(served < 1000, `the gateway answered ${served} of 2000 requests nobody read`);
  });

  // Before: the gateway read the upstream as fast as it came and buffered what the agent did not read.
  it('reads a streamed reply no faster than a sandbox that stopped reading it, and still charges it whole', async () => {
    upstream.script = { ...DEFAULT_SCRIPT, chunks: 2000, padding: 100_000 };
    const session = await gateway.openSession(identity(), grant());
    const bridge = await openGatewayBridge(gateway.socketPath, session.id);
    const link = bridge.childEnd;
    link.pause();
    const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const request = Buffer.from(
      `POST /u/chat/v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${session.token}\r\n` +
        `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    link.write(encodeFrame(FRAME.open, 901));
    for (const frame of dataFrames(901, request)) link.write(frame);
    let taken = -1;
    for (let i = 0; i < 20 && upstream.sentBytes !== taken; i++) {
      taken = upstream.sentBytes;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(taken > 0, 'the reply started');
    assert.ok(taken < 50_000_000, `the gateway took ${taken} bytes of a 200 MB reply nobody read`);
    link.destroy();
    bridge.close();
    const [call] = await waitFor('the call to be recorded', async () => {
      const calls = await callsOf(session);
      return calls.length ? calls : undefined;
    });
    await gateway.closeSession(session.id);
    assert.equal(call.outputTokens, 999, 'the reply was read to its end for its usage');
  });

  it('audits an upstream name carrying control characters, and quotes no control characters or pages of text', async () => {
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        const res = await fetch(base + '/%00x%0Ay%1b[2J/v1/messages', { method: 'POST', headers: { 'x-api-key': token }, body: '{}' });
        console.log('STATUS', res.status);
        const s = require('net').connect(8377, '127.0.0.1', () => s.write('CONNECT ' + 'a'.repeat(8000) + ':443 HTTP/1.1\\r\\n\\r\\n'));
        s.on('data', (c) => console.log('CONNECT', String(c).split('\\r\\n')[0]));
        await sleep(500);`),
    );
    assert.match(run.outputTail, /STATUS 403/, run.outputTail);
    const events = await gatewayEvents(session.identity.runId);
    assert.equal(events.length, 2, JSON.stringify(events.map((e) => e.reason)));
    for (const e of events) {
      assert.doesNotMatch(`${e.path}${e.reason}`, /[\u0000-\u001f]/, 'no control characters');
      assert.ok((e.reason ?? '').length <= 600, `a reason of ${e.reason?.length} characters`);
    }
  });

  it('refuses a body the upstream could read differently, and forwards only what it read', async () => {
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        ${SEND_CHAT}
        const m = '"model":"m","messages":[{"role":"user","content":"hi"}]';
        await send('{' + m + ',"stream":"true"}');
        await send('{' + m + ',"stream":true,"temperature":NaN}');
        await send('{' + m + ',"stream":true,"stream":false}');`),
    );
    assert.match(run.outputTail, /STATUS 400[\s\S]*STATUS 400[\s\S]*STATUS 200/, run.outputTail);
    assert.equal(upstream.bodies.length, 1, upstream.bodies.join('\n'));
    assert.equal(upstream.bodies[0].match(/"stream"/g)?.length, 1, 'the upstream reads the body the gateway read');
    const calls = await callsOf(session);
    assert.deepEqual(
      calls.map((c) => [c.inputTokens, c.outputTokens]),
      [[40, 999]],
    );
  });

  it('refuses, before parsing, a body of more values or deeper nesting than a conversation has', async () => {
    const session = await gateway.openSession(identity(), grant());
    const run = await inSandbox(
      session,
      nodeAgent(`
        ${SEND_CHAT}
        const m = '"model":"m","messages":[{"role":"user","content":"hi"}]';
        await send('{' + m + ',"x":[' + '{},'.repeat(600000) + '{}]}');
        await send('{' + m + ',"x":' + '['.repeat(600) + ']'.repeat(600) + '}');
        await send('{' + m + ',"x":"' + '{},'.repeat(3000000) + '"}');`),
    );
    const statuses = [...run.outputTail.matchAll(/STATUS (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [400, 400, 200], run.outputTail);
    assert.equal(upstream.bodies.length, 1, 'only the body of text reached the upstream');
    const reasons = (await gatewayEvents(session.identity.runId)).map((e) => e.reason ?? '');
    assert.match(reasons.join('\n'), /the body holds more than 500000 JSON values/);
    assert.match(reasons.join('\n'), /the body nests deeper than 512 levels/);
  });

  it('refuses requests that would make the upstream fetch a URL, reach an MCP server or run on after the call', async () => {
    const session = await gateway.openSession(identity(), grant());
    const user = (content: unknown) => ({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content }] });
    const refused = [
      [
        'claude/v1/messages',
        { ...user('hi'), mcp_servers: [{ type: 'url', url: 'https://evil.example/mcp', name: 'x' }] },
      ],
      ['claude/v1/messages', { ...user('hi'), tools: [{ type: 'web_fetch_20250910', name: 'web_fetch' }] }],
      ['claude/v1/messages', { ...user('hi'), tools: [{ type: 'web_search_20250305', name: 'web_search' }] }],
      ['claude/v1/messages', user([{ type: 'image', source: { type: 'url', url: 'https://evil.example/?leak=1' } }])],
      ['chat/v1/chat/completions', user([{ type: 'image_url', image_url: { url: 'https://evil.example/x.png' } }])],
      ['resp/v1/responses', { model: 'm', input: 'hi', tools: [{ type: 'mcp', server_url: 'https://evil.example' }] }],
      [
        'resp/v1/responses',
        {
          model: 'm',
          input: [{ role: 'user', content: [{ type: 'input_file', file_url: 'https://evil.example/f' }] }],
        },
      ],
      ['resp/v1/responses', { model: 'm', input: 'hi', background: true }],
      [
        'resp/v1/responses',
        { model: 'm', input: 'hi', tools: [{ type: 'shell', environment: { type: 'container_auto' } }] },
      ],
    ];
    const allowed = [
      // A client-side tool call whose input names a URL is the agent's own business.
      [
        'claude/v1/messages',
        user([{ type: 'tool_use', id: 't', name: 'fetch', input: { url: 'https://docs.example' } }]),
      ],
      ['chat/v1/chat/completions', user([{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }])],
      ['resp/v1/responses', { model: 'm', input: 'hi', tools: [{ type: 'function', name: 'f', parameters: {} }] }],
    ];
    const run = await inSandbox(
      session,
      nodeAgent(`
        for (const [path, body] of ${JSON.stringify([...refused, ...allowed])}) {
          const res = await fetch(base + '/' + path, { method: 'POST', body: JSON.stringify(body),
            headers: { authorization: 'Bearer ' + token, 'x-api-key': token, 'content-type': 'application/json' } });
          console.log('STATUS', res.status);
        }`),
    );
    const statuses = [...run.outputTail.matchAll(/STATUS (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [...refused.map(() => 403), ...allowed.map(() => 200)], run.outputTail);
    assert.equal(upstream.bodies.length, allowed.length, 'no refused request reached the upstream');
    assert.ok(!upstream.bodies.some((b) => b.includes('evil.example')));
    assert.equal((await gatewayEvents(session.identity.runId)).length, refused.length);
  });

  it('refuses, unsent and audited, a model the upstream does not list; forwards the listed one', async () => {
    const listed = grant();
    listed.upstreams[0] = { ...listed.upstreams[0], models: ['cheap-model'] };
    const session = await gateway.openSession(identity(), listed);
    const run = await inSandbox(
      session,
      nodeAgent(`
        for (const model of ['premium-model', 'cheap-model', undefined, 'Cheap-Model']) {
          const res = await fetch(base + '/chat/v1/chat/completions', { method: 'POST',
            headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
            body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }) });
          console.log('STATUS', res.status);
        }`),
    );
    const statuses = [...run.outputTail.matchAll(/STATUS (\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [403, 200, 403, 403], run.outputTail);
    assert.equal(upstream.bodies.length, 1, 'only the listed model reached the upstream');
    assert.match(upstream.bodies[0], /"model":"cheap-model"/);
    const reasons = (await gatewayEvents(session.identity.runId)).map((e) => e.reason ?? '');
    assert.match(
      reasons.join('\n'),
      /the model 'premium-model' is not allowed on upstream 'chat' \(allowed: cheap-model\)/,
    );
    assert.match(reasons.join('\n'), /a request naming no model is not allowed/);
  });

  it("refuses a registry on the worker's own network (its database, Temporal, cloud metadata)", async () => {
    let hits = 0;
    const internal = http.createServer((_req, res) => void (hits++, res.end('internal')));
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const port = (internal.address() as AddressInfo).port;
    try {
      const session = await gateway.openSession(identity('setup'), {
        upstreams: [],
        registries: [`127.0.0.1:${port}`, `localhost:${port}`],
        budgets: {},
      });
      const run = await inSandbox(session, [
        'sh',
        '-c',
        `curl -s -o /dev/null -w "HTTP %{http_code}\\n" http://127.0.0.1:${port}/; curl -s -o /dev/null -w "HTTP %{http_code}\\n" http://localhost:${port}/; curl -sS https://localhost:${port}/ 2>&1 | head -c 300; echo`,
      ]);
      assert.match(run.outputTail, /HTTP 403\nHTTP 403\n.*403/, run.outputTail);
      assert.equal(hits, 0, 'the internal service was never reached');
      const reasons = (await gatewayEvents(session.identity.runId)).filter((e) => !e.allowed).map((e) => e.reason);
      assert.equal(reasons.length, 3, reasons.join('; '));
      assert.ok(
        reasons.every((r) => /worker's own network/.test(r ?? '')),
        reasons.join('; '),
      );
    } finally {
      await new Promise((r) => internal.close(r));
    }
  });
});
