/**
 * The model gateway on the real stack: a command in the real bwrap sandbox reaches a local
 * upstream only through the relay and the gateway, with its per-task token; the real key is
 * added on the way out and never seen inside; every call is recorded with its usage; refusals
 * (wrong token, a path the protocol does not allow, any other host through the proxy) are
 * audited; a budget overrun stops the command with the reason.
 */
import { REAL_KEY, runBehindGateway, startTestGateway } from './helpers';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, asc, eq } from 'drizzle-orm';
import { sandboxEvents } from '../../db/schema';
import { modelCallsOf } from '../../db/model-calls';
import { MAX_IN_PROCESS_REPLY_BYTES, type ModelGateway } from '../../host/gateway/server';
import { expandPlaceholders } from '../../domain/agent-placeholders';
import { placeholderValues } from '../../host/gateway/launch';
import type { GatewaySession, SessionGrant } from '../../host/gateway/session';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { testStack } from '../helpers/stack';
import { sandboxTask, type SandboxTask } from '../sandbox/escape-helpers';

/** A node program run in the sandbox: one chat call through the gateway, printing status and body. */
function chatCall(extra = ''): string[] {
  return [
    'node',
    '-e',
    `(async () => {
      const res = await fetch(process.env.OPENAI_BASE_URL + '/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ' + process.env.OPENAI_API_KEY },
        body: JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'hi' }] }),
      });
      console.log('STATUS', res.status, await res.text());
      ${extra}
    })().catch((e) => { console.log('ERR', e.cause?.code || e.message, String(e.cause)); process.exit(3); });`,
  ];
}

describe('model gateway', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: FakeOpenAI;
  let t: SandboxTask;

  before(async () => {
    gateway = await startTestGateway();
    upstream = await startFakeOpenAI({
      apiKey: REAL_KEY,
      script: () => ({ content: 'hello', usage: { prompt: 40, completion: 2 } }),
    });
    t = await sandboxTask();
  });
  after(async () => {
    await t.release();
    await upstream.close();
    await gateway.close();
  });

  const grant = (budgets: SessionGrant['budgets'] = {}): SessionGrant => ({
    upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: upstream.baseUrl, apiKeyEnv: 'FAKE_KEY' }],
    registries: [],
    budgets,
  });

  const runThroughGateway = (session: GatewaySession, argv: string[], env: Record<string, string> = {}) =>
    runBehindGateway(t, gateway, session, argv, {
      env: {
        OPENAI_BASE_URL: expandPlaceholders('{gateway:model}', placeholderValues(session.token)),
        OPENAI_API_KEY: session.token,
        ...env,
      },
    });

  const identity = (runId: string) => ({
    tenantId: t.tenantId,
    taskId: t.taskId,
    runId,
    agentId: 'agent-1',
    purpose: 'agent' as const,
  });

  const refusals = async (runId: string) =>
    (
      await testStack()
        .database.db.select()
        .from(sandboxEvents)
        .where(
          and(eq(sandboxEvents.taskId, t.taskId), eq(sandboxEvents.kind, 'gateway'), eq(sandboxEvents.allowed, false)),
        )
        .orderBy(asc(sandboxEvents.id))
    ).filter((r) => (r.detail as { runId?: string }).runId === runId);

  it("Arbiter's own loop does not read a model reply over 8 MiB: the call answers 413, naming the limit", async () => {
    const big = await startFakeOpenAI({
      apiKey: REAL_KEY,
      script: () => ({ content: 'x'.repeat(MAX_IN_PROCESS_REPLY_BYTES + 1) }),
    });
    const session = await gateway.openSession(
      { ...identity('run-big'), purpose: 'conversation' },
      {
        upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: big.baseUrl, apiKeyEnv: 'FAKE_KEY' }],
        registries: [],
        budgets: {},
      },
    );
    try {
      const body = Buffer.from(JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'hi' }] }));
      const res = await gateway.call(session, {
        method: 'POST',
        upstream: 'model',
        rest: 'chat/completions',
        body,
        signal: AbortSignal.timeout(30_000),
      });
      assert.equal(res.status, 413);
      assert.match(res.body.toString('utf8'), /model reply larger than 8388608 bytes; not read/);
    } finally {
      await gateway.closeSession(session.id);
      await big.close();
    }
  });

  it('forwards a call with the real key the sandbox never sees, and records it with its usage', async () => {
    const session = await gateway.openSession(identity('run-ok'), grant());
    const run = await runThroughGateway(session, [...chatCall()]);
    assert.equal(run.exitCode, 0, run.outputTail);
    assert.match(run.outputTail, /STATUS 200 .*hello/);
    const seen = upstream.requests.at(-1);
    assert.equal(seen?.headers.authorization, `Bearer ${REAL_KEY}`, 'the upstream got the real key');
    const calls = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, 'run-ok');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].inputTokens, 40);
    assert.equal(calls[0].outputTokens, 2);
    assert.equal(calls[0].upstream, 'model');
    assert.match(calls[0].requestDigest, /^sha256:[0-9a-f]{64}$/);
    assert.doesNotMatch(calls[0].requestBody, new RegExp(REAL_KEY));
    const env = await runThroughGateway(session, ['sh', '-c', 'env; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"']);
    assert.doesNotMatch(env.outputTail, new RegExp(REAL_KEY), 'the key is in no environment inside');
    assert.match(env.outputTail, /OPENAI_API_KEY=arbiter-/, 'the agent holds only its gateway token');
  });

  it('refuses a wrong token and a path the protocol does not allow, and audits both', async () => {
    const session = await gateway.openSession(identity('run-refused'), grant());
    const wrong = await runThroughGateway(session, chatCall(), { OPENAI_API_KEY: 'sk-stolen' });
    assert.match(wrong.outputTail, /STATUS 401 .*gateway token/);
    const files = await runThroughGateway(session, chatCall(), {
      OPENAI_BASE_URL: expandPlaceholders('{gateway:model}/files?x=', placeholderValues(session.token)),
    });
    assert.match(files.outputTail, /STATUS 403 .*not a openai-chat call/);
    const reasons = (await refusals('run-refused')).map((r) => r.reason);
    assert.ok(
      reasons.some((r) => /gateway token/.test(r ?? '')),
      reasons.join('; '),
    );
    assert.ok(
      reasons.some((r) => /not a openai-chat call/.test(r ?? '')),
      reasons.join('; '),
    );
  });

  it('refuses and audits any other host through the proxy; direct connections have no route', async () => {
    const session = await gateway.openSession(identity('run-proxy'), grant());
    const run = await runThroughGateway(session, [
      'sh',
      '-c',
      "curl -sS -o /dev/null -w \"HTTP %{http_code}\\n\" http://example.com/ ; curl -sS https://example.com/ ; echo; node -e \"require('net').connect(443, '1.1.1.1').on('error', (e) => console.log('DIRECT', e.code))\"; getent hosts example.com || echo NODNS",
    ]);
    assert.match(run.outputTail, /HTTP 403/);
    assert.match(run.outputTail, /DIRECT ENETUNREACH/);
    assert.match(run.outputTail, /NODNS/);
    const targets = (await refusals('run-proxy')).map((r) => `${r.op} ${r.path}`);
    assert.ok(
      targets.some((x) => /^http GET http:\/\/example.com\//.test(x)),
      targets.join('; '),
    );
    assert.ok(
      targets.some((x) => x === 'connect example.com:443'),
      targets.join('; '),
    );
  });

  /**
   * One chat call, its reply's length printed, through a session whose upstream is at `baseUrl`;
   * returns what the command printed and the call's record.
   */
  async function callThrough(runId: string, baseUrl: string) {
    const session = await gateway.openSession(identity(runId), {
      ...grant(),
      upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl, apiKeyEnv: 'FAKE_KEY' }],
    });
    try {
      const read = chatCall().map((a) =>
        a.replace(
          "console.log('STATUS', res.status, await res.text());",
          "console.log('STATUS', res.status, (await res.text()).length);",
        ),
      );
      const run = await runThroughGateway(session, read);
      const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, runId);
      return { printed: run.outputTail, call };
    } finally {
      await gateway.closeSession(session.id);
    }
  }

  it('a reply too long to scan for its usage is charged by its length, never free', async () => {
    const bytes = 17 * 1024 * 1024;
    const huge = await startFakeOpenAI({
      apiKey: REAL_KEY,
      script: () => ({ content: 'x'.repeat(bytes), usage: { prompt: 40, completion: 2 } }),
    });
    try {
      const { printed, call } = await callThrough('run-huge', huge.baseUrl);
      assert.match(printed, /STATUS 200 \d{8}/, printed);
      assert.ok(call.outputTokens >= bytes / 4, `charged ${call.outputTokens} output tokens for ${bytes} bytes`);
    } finally {
      await huge.close();
    }
  });

  /** The record of one call whose upstream answers `reply`. */
  async function recordedCallFor(runId: string, reply: Buffer) {
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(reply));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { printed, call } = await callThrough(
        runId,
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      );
      assert.match(printed, /STATUS 200 \d+/, printed);
      return call;
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  // Found in review: 8 such replies from a tenant's key-less upstream held the worker's thread 26 s, charged nothing.
  it('a reply too many values to parse for its usage is charged by its length, unparsed', async () => {
    const reply = Buffer.from(`{"usage":{"iterations":[${'{},'.repeat(1_500_000)}{}]}}`);
    const call = await recordedCallFor('run-values', reply);
    assert.equal(call.outputTokens, Math.ceil(reply.length / 4), 'charged by its length');
  });

  // Found in attack: the gateway asks for `include_usage`, so each event of a chat stream names `"usage":null`;
  // a long honest answer's events were all parsed for usage, past the values bound, and charged some 60 times over by length.
  it("a long stream's events without usage are not parsed for it: charged its reported usage", async () => {
    const event = { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'tok' } }] };
    const chunk = `data: ${JSON.stringify({ ...event, usage: null })}\n\n`;
    const last = `data: ${JSON.stringify({ ...event, choices: [], usage: { prompt_tokens: 40, completion_tokens: 100_000 } })}\n\n`;
    const reply = Buffer.from(`${chunk.repeat(100_000)}${last}data: [DONE]\n\n`);
    const call = await recordedCallFor('run-long-stream', reply);
    assert.deepEqual([call.inputTokens, call.outputTokens], [40, 100_000], `of a ${reply.length}-byte stream`);
  });

  it('a usage past what a record holds is recorded at a billion tokens, not lost', async () => {
    const call = await recordedCallFor(
      'run-billions',
      Buffer.from('{"usage":{"prompt_tokens":5000000000,"completion_tokens":7}}'),
    );
    assert.ok(call, 'the call is recorded');
    assert.deepEqual([call.inputTokens, call.outputTokens], [1e9, 7]);
  });

  it('stops the command with the reason when a call crosses the token budget', async () => {
    const session = await gateway.openSession(identity('run-budget'), grant({ maxTokens: 30 }));
    const run = await runThroughGateway(session, chatCall('await new Promise((r) => setTimeout(r, 15000));'));
    assert.notEqual(run.exitCode, 0);
    assert.match(run.killedReason ?? '', /stopped by the model gateway: token budget exceeded: 42 of 30 tokens/);
    // A later call is refused; or, on a busy host, the gateway's stop ends the command before it calls.
    const calls = upstream.requests.length;
    const again = await runThroughGateway(session, chatCall());
    const refused = /STATUS 429 .*token budget exceeded/.test(again.outputTail);
    const stopped = /stopped by the model gateway: token budget exceeded/.test(again.killedReason ?? '');
    assert.ok(refused || stopped, JSON.stringify(again));
    assert.equal(upstream.requests.length, calls, 'no call past the budget reached the upstream');
  });
});
