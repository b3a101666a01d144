/**
 * An upstream that echoes the request's Authorization header in a refusal (as some proxies and
 * self-hosted servers do on a 401) or in a streamed success (a debugging proxy) must not hand the
 * worker's key to the agent, to the call's record, or to the `openai` kind's failure in workflow
 * history: the gateway masks it first.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { modelCallsOf } from '../../db/model-calls';
import { expandPlaceholders } from '../../domain/agent-placeholders';
import { placeholderValues } from '../../host/gateway/launch';
import type { ModelGateway } from '../../host/gateway/server';
import type { SessionGrant } from '../../host/gateway/session';
import { testStack } from '../helpers/stack';
import { sandboxTask, type SandboxTask } from '../sandbox/escape-helpers';
import { REAL_KEY, runBehindGateway, startTestGateway } from './helpers';

describe('model gateway: a reply that echoes the key', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: http.Server;
  let baseUrl: string;
  let t: SandboxTask;
  let padded = false;
  let echoInSuccess = false;

  before(async () => {
    gateway = await startTestGateway();
    // Refuses everything, printing the request's headers back, as a misbehaving proxy does.
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (echoInSuccess) return streamEcho(res, req.headers.authorization ?? '');
        res.writeHead(401, { 'content-type': 'application/json' });
        // Padded so the refusal is cut at 1 MiB ten bytes into the key.
        if (padded) res.end(`${'x'.repeat(1024 * 1024 - 10)}${req.headers.authorization?.slice('Bearer '.length)}`);
        else
          res.end(
            JSON.stringify({ error: { message: `bad key: ${req.headers.authorization}`, headers: req.headers } }),
          );
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
    echoInSuccess = true;
    try {
      const { output, call } = await agentCall('run-echo-success');
      assert.match(output, /STATUS 200 .*you sent Bearer \*\*\*.*\[DONE\]/s, output);
      assert.equal(call.status, 200);
      assert.match(String(call.responseBody), /you sent Bearer \*\*\*/);
    } finally {
      echoInSuccess = false;
    }
  });

  /** One chat call from Arbiter's own loop (the `openai` kind's, whose failure goes to history). */
  async function ownLoopCall(runId: string) {
    const session = await gateway.openSession(identity(runId, 'conversation'), grant());
    try {
      return await gateway.call(session, {
        method: 'POST',
        upstream: 'model',
        rest: 'chat/completions',
        body: Buffer.from(chat),
        signal: AbortSignal.timeout(30_000),
      });
    } finally {
      await gateway.closeSession(session.id);
    }
  }

  it("reaches Arbiter's own loop (the openai kind's request, whose failure goes to history) masked", async () => {
    const res = await ownLoopCall('run-echo-loop');
    assert.equal(res.status, 401);
    assert.match(res.body.toString('utf8'), /bad key: Bearer \*\*\*/);
    assert.doesNotMatch(res.body.toString('utf8'), new RegExp(REAL_KEY));
  });

  it('cuts a refusal past 1 MiB as a broken reply, storing none of a key it was cut inside', async () => {
    padded = true;
    try {
      await assert.rejects(ownLoopCall('run-echo-cut'), /upstream refusal longer than 1048576 bytes; cut/);
    } finally {
      padded = false;
    }
    const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, 'run-echo-cut');
    assert.equal(call?.status, 401);
    assert.ok(call.responseBody.endsWith('x***'), `ends ${JSON.stringify(call.responseBody.slice(-20))}`);
    assert.doesNotMatch(call.responseBody, new RegExp(REAL_KEY.slice(0, 10)));
  });
});
