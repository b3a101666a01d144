/**
 * An upstream that echoes the request's Authorization header in a refusal (as some proxies and
 * self-hosted servers do on a 401) or in a streamed success (a debugging proxy) must not hand the
 * worker's key to the agent, to the call's record, or to the `openai` kind's failure in workflow
 * history: the gateway masks it first.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { modelCallsOf } from '../../db/model-calls';
import { expandPlaceholders } from '../../domain/agent-placeholders';
import { placeholderValues } from '../../host/gateway/launch';
import { startModelGateway, type ModelGateway } from '../../host/gateway/server';
import type { SessionGrant } from '../../host/gateway/session';
import { TEST_MODEL_KEYS, testStack } from '../helpers/stack';
import { sandboxTask, type SandboxTask } from '../sandbox/escape-helpers';
import { REAL_KEY, runBehindGateway, startTestGateway } from './helpers';

describe('model gateway: a reply that echoes the key', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: http.Server;
  let baseUrl: string;
  let t: SandboxTask;
  /** How the upstream answers: a 401 echoing the request, padded past 1 MiB, a streamed 200, a gzipped 200. */
  let mode: 'refuse' | 'padded' | 'success' | 'gzip' | 'gzip, identity' | 'status 799' = 'refuse';
  async function answering<T>(how: typeof mode, fn: () => Promise<T>): Promise<T> {
    mode = how;
    try {
      return await fn();
    } finally {
      mode = 'refuse';
    }
  }

  before(async () => {
    gateway = await startTestGateway();
    // Refuses everything, printing the request's headers back, as a misbehaving proxy does.
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const authorization = req.headers.authorization ?? '';
        if (mode === 'success') return streamEcho(res, authorization);
        if (mode.startsWith('gzip')) {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': mode });
          return res.end(gzipSync(`you sent ${authorization}`));
        }
        const status = mode === 'status 799' ? 799 : 401;
        // A reason phrase with a byte `new Response` refuses (undici reads it as U+FFFD).
        res.writeHead(status, mode === 'status 799' ? 'Ünknown' : 'Unauthorizéd', {
          'content-type': 'application/json',
        });
        // Padded so the refusal is cut at 1 MiB ten bytes into the key.
        if (mode === 'padded') res.end(`${'x'.repeat(1024 * 1024 - 10)}${authorization.slice('Bearer '.length)}`);
        else res.end(JSON.stringify({ error: { message: `bad key: ${authorization}`, headers: req.headers } }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
    t = await sandboxTask();
  });
  /** A 200 stream that echoes the header, the key split over two writes 50 ms apart. */
  function streamEcho(res: http.ServerResponse, authorization: string) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const event = `data: ${JSON.stringify({ choices: [{ delta: { content: `you sent ${authorization}` } }] })}\n\n`;
    const half = event.indexOf('real-upstream');
    res.write(event.slice(0, half));
    setTimeout(() => res.end(`${event.slice(half)}data: [DONE]\n\n`), 50);
  }

  after(async () => {
    await t.release();
    await new Promise((r) => upstream.close(r));
    await gateway.close();
  });

  const grant = (): SessionGrant => ({
    upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl, apiKeyEnv: 'FAKE_KEY' }],
    registries: [],
    budgets: {},
  });
  const identity = (runId: string, purpose: 'agent' | 'conversation') => ({
    tenantId: t.tenantId,
    taskId: t.taskId,
    runId,
    agentId: 'agent-1',
    purpose,
  });
  const chat = JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'hi' }] });

  /** One chat call by an agent in the sandbox: what it printed, and the call's record. */
  async function agentCall(runId: string) {
    const session = await gateway.openSession(identity(runId, 'agent'), grant());
    const program = `fetch(process.env.OPENAI_BASE_URL + '/chat/completions', { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer ' + process.env.OPENAI_API_KEY },
      body: ${JSON.stringify(chat)} }).then(async (r) => console.log('STATUS', r.status, await r.text()));`;
    const run = await runBehindGateway(t, gateway, session, ['node', '-e', program], {
      env: {
        OPENAI_BASE_URL: expandPlaceholders('{gateway:model}', placeholderValues(session.token)),
        OPENAI_API_KEY: session.token,
      },
    });
    await gateway.closeSession(session.id);
    assert.doesNotMatch(run.outputTail, /real-upstream/, 'the agent never reads the key');
    const calls = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, runId);
    assert.equal(calls.length, 1);
    assert.doesNotMatch(String(calls[0].responseBody), /real-upstream/);
    return { output: run.outputTail, call: calls[0] };
  }

  it('reaches an agent in the sandbox, and the stored call, with the key masked', async () => {
    const { output, call } = await agentCall('run-echo-agent');
    assert.match(output, /STATUS 401 .*bad key: Bearer \*\*\*/, output);
    assert.equal(call.status, 401);
    assert.match(String(call.responseBody), /Bearer \*\*\*/);
  });

  it('reaches an agent, and the stored call, masked in a streamed success that echoes it', async () => {
    const { output, call } = await answering('success', () => agentCall('run-echo-success'));
    assert.match(output, /STATUS 200 .*you sent Bearer \*\*\*.*\[DONE\]/s, output);
    assert.equal(call.status, 200);
    assert.match(String(call.responseBody), /you sent Bearer \*\*\*/);
  });

  /** One chat call from Arbiter's own loop (the `openai` kind's, whose failure goes to history). */
  async function ownLoopCall(runId: string, via = gateway) {
    const session = await via.openSession(identity(runId, 'conversation'), grant());
    try {
      return await via.call(session, {
        method: 'POST',
        upstream: 'model',
        rest: 'chat/completions',
        body: Buffer.from(chat),
        signal: AbortSignal.timeout(30_000),
      });
    } finally {
      await via.closeSession(session.id);
    }
  }

  /** One call through a gateway whose worker holds `key` as FAKE_KEY. */
  async function callHolding(key: string, runId: string) {
    const other = await startModelGateway({
      db: testStack().database.db,
      secretEnv: (n) => (n === 'FAKE_KEY' ? key : undefined),
      modelKeys: TEST_MODEL_KEYS,
    });
    try {
      return await ownLoopCall(runId, other);
    } finally {
      await other.close();
    }
  }

  it("reaches Arbiter's own loop (the openai kind's request, whose failure goes to history) masked", async () => {
    const res = await ownLoopCall('run-echo-loop');
    assert.equal(res.status, 401);
    assert.match(res.body.toString('utf8'), /bad key: Bearer \*\*\*/);
    assert.doesNotMatch(res.body.toString('utf8'), new RegExp(REAL_KEY));
  });

  it('cuts a refusal past 1 MiB as a broken reply, storing none of a key it was cut inside', async () => {
    await assert.rejects(
      answering('padded', () => ownLoopCall('run-echo-cut')),
      /upstream refusal longer than 1048576 bytes; cut/,
    );
    const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, 'run-echo-cut');
    assert.equal(call?.status, 401);
    assert.ok(call.responseBody.endsWith('x***'), `ends ${JSON.stringify(call.responseBody.slice(-20))}`);
    assert.doesNotMatch(call.responseBody, new RegExp(REAL_KEY.slice(0, 10)));
  });

  it('masks a key kept with a line ending (a CRLF env file) as fetch sent it, without one', async () => {
    const res = await answering('success', () => callHolding(`${REAL_KEY}\r\n`, 'run-echo-crlf'));
    assert.equal(res.status, 200);
    assert.match(res.body.toString('latin1'), /you sent Bearer \*\*\*/);
    assert.doesNotMatch(res.body.toString('latin1'), /real-upstream/);
  });

  it('names no key that fetch refused as a header value (a line break inside it)', async () => {
    const res = await callHolding('sk-real-up\nstream-key', 'run-echo-invalid');
    assert.equal(res.status, 502);
    assert.match(res.body.toString('utf8'), /upstream unreachable: .*\*\*\*/s);
    assert.doesNotMatch(res.body.toString('utf8'), /real-up/);
  });

  it('masks a gzipped reply fetch decodes, and breaks off one in a coding it leaves encoded', async () => {
    const decoded = await answering('gzip', () => ownLoopCall('run-echo-gzip'));
    assert.equal(decoded.body.toString('utf8'), 'you sent Bearer ***');
    await assert.rejects(
      answering('gzip, identity', () => ownLoopCall('run-echo-undecoded')),
      /content coding the gateway cannot decode/,
    );
    const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, 'run-echo-undecoded');
    assert.equal(call?.responseBody, '');
  });

  it('records a reply under a status HTTP does not define as a cut 502, unread', async () => {
    await assert.rejects(
      answering('status 799', () => ownLoopCall('run-echo-799')),
      /status 799, which HTTP does not define/,
    );
    const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, 'run-echo-799');
    assert.equal(call?.status, 502);
    assert.equal(call.responseBody, '');
  });
});
