/**
 * A model call the upstream took and never answered (no reply headers within undici's 300 s, a
 * connection dropped after the request) is billed by the upstream, so it is recorded and charged
 * as sent: it went out as an unrecorded refusal, free however many an agent made. A call that
 * never went out (nothing listening, a reset on connecting) costs nothing: an outage must not
 * spend the run's budget. A body that is not UTF-8 is refused: each bad byte became three once
 * re-serialised. (Found in review.)
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { modelCallsOf } from '../../db/model-calls';
import type { ModelGateway } from '../../host/gateway/server';
import { ABANDONED } from '../../host/gateway/call-charge';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { startTestGateway } from './helpers';

describe('model gateway: calls without a reply', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: http.Server;
  let baseUrl: string;
  const task = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };

  before(async () => {
    gateway = await startTestGateway();
    // Reads the whole request, then drops the connection without a word.
    upstream = http.createServer((req) => {
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  });

  after(async () => {
    await new Promise((r) => upstream.close(r));
    await gateway.close();
  });

  /** One chat call of `body` to `url` in a session of its own run; the reply and the run's recorded calls. */
  async function callTo(url: string, body: Buffer) {
    const runId = uniqueId('run');
    const session = await gateway.openSession(
      { ...task, runId, agentId: 'agent-1', purpose: 'conversation' },
      {
        upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: url, apiKeyEnv: 'FAKE_KEY' }],
        registries: [],
        budgets: {},
      },
    );
    try {
      const reply = await gateway.call(session, { method: 'POST', upstream: 'model', rest: 'chat/completions', body });
      return { reply, calls: await modelCallsOf(testStack().database.db, task.tenantId, task.taskId, runId) };
    } finally {
      await gateway.closeSession(session.id);
    }
  }

  const chat = (content: string | Buffer) =>
    Buffer.concat([
      Buffer.from('{"model":"fake","max_tokens":5000,"messages":[{"role":"user","content":"'),
      Buffer.from(content),
      Buffer.from('"}]}'),
    ]);

  it('a call the upstream took and dropped is recorded and charged as sent', async () => {
    const { reply, calls } = await callTo(baseUrl, chat('hello'));
    assert.equal(reply.status, 502);
    assert.match(reply.body.toString('utf8'), /no reply from the upstream .*charged as sent/);
    assert.equal(calls.length, 1, 'recorded');
    assert.equal(calls[0].status, ABANDONED);
    assert.ok(calls[0].outputTokens >= 5000, `charged its whole max_tokens: ${JSON.stringify(calls[0])}`);
  });

  it('a call nothing took (no upstream listening) costs nothing and is not recorded', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const { reply, calls } = await callTo(`http://127.0.0.1:${port}/v1`, chat('hello'));
    assert.equal(reply.status, 502);
    assert.match(reply.body.toString('utf8'), /upstream unreachable/);
    assert.equal(calls.length, 0);
  });

  it('a call reset as it connects costs nothing and is not recorded', async () => {
    const resetting = http.createServer();
    resetting.on('connection', (socket) => socket.resetAndDestroy());
    await new Promise<void>((r) => resetting.listen(0, '127.0.0.1', r));
    try {
      const port = (resetting.address() as AddressInfo).port;
      const { reply, calls } = await callTo(`http://127.0.0.1:${port}/v1`, chat('hello'));
      assert.equal(reply.status, 502);
      assert.equal(calls.length, 0, JSON.stringify(calls));
    } finally {
      await new Promise((r) => resetting.close(r));
    }
  });

  it('a body that is not UTF-8 is refused, not forwarded three times its size', async () => {
    const { reply, calls } = await callTo(baseUrl, chat(Buffer.alloc(1000, 0xff)));
    assert.equal(reply.status, 400);
    assert.match(reply.body.toString('utf8'), /the body is not UTF-8/);
    assert.equal(calls.length, 0);
  });
});
