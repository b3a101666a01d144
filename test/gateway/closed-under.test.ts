/**
 * Calls a session closed under, as an agent that ends its run with calls in flight leaves them:
 * the upstream had the request and bills what its model writes. Found in attack: a chat call
 * asking for `n: 128` answers was charged one answer's `max_tokens`; a streamed call whose
 * headers and an empty first event had come (a reasoning model thinks without streaming) was
 * charged what had arrived, nothing; and of `max_tokens: 1` and `max_completion_tokens: 100000`
 * the first was taken, though a server may honour the second.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { modelCallsOf } from '../../db/model-calls';
import type { ModelGateway } from '../../host/gateway/server';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { startTestGateway } from './helpers';

describe('model gateway: calls the session closed under', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: http.Server;
  let baseUrl: string;
  let received = 0;
  const task = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };

  before(async () => {
    gateway = await startTestGateway();
    // Takes each request and works on it: a streamed one gets its headers and an empty first event, then silence.
    upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean; user?: string };
        if (doc.stream && req.url?.endsWith('/messages')) {
          // Anthropic's opening event counts one output token before a word is written.
          const start = {
            type: 'message_start',
            message: { model: 'c', usage: { input_tokens: 10, output_tokens: 1 } },
          };
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(`event: message_start\ndata: ${JSON.stringify(start)}\n\n`);
        } else if (doc.stream) {
          // `user: 'writes'`: the model had begun its answer; else it thinks, silent.
          const content = doc.user === 'writes' ? 'twelve chars' : '';
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(
            `data: ${JSON.stringify({ model: 'm', choices: [{ delta: { role: 'assistant', content } }] })}\n\n`,
          );
        }
        received++;
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  });

  after(async () => {
    upstream.closeAllConnections();
    await new Promise((r) => upstream.close(r));
    await gateway.close();
  });

  /** The output tokens charged for one call of `request`, its session closed once the upstream has it. */
  async function chargedWhenClosedUnder(
    request: Record<string, unknown>,
    protocol: 'openai-chat' | 'anthropic-messages' = 'openai-chat',
  ): Promise<number> {
    const runId = uniqueId('run');
    const session = await gateway.openSession(
      { ...task, runId, agentId: 'agent-1', purpose: 'agent' },
      {
        upstreams: [{ name: 'model', protocol, baseUrl, apiKeyEnv: 'FAKE_KEY' }],
        registries: [],
        budgets: {},
      },
    );
    const before = received;
    const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'go' }], ...request }));
    const rest = protocol === 'openai-chat' ? 'chat/completions' : 'messages';
    const call = gateway.call(session, { method: 'POST', upstream: 'model', rest, body });
    await waitFor('the upstream to have the request', async () => received > before, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    await gateway.closeSession(session.id);
    await call.catch(() => undefined);
    const calls = await modelCallsOf(testStack().database.db, task.tenantId, task.taskId, runId);
    assert.equal(calls.length, 1, 'recorded');
    return calls[0].outputTokens;
  }

  it('charges every answer a request asked for', async () => {
    assert.equal(await chargedWhenClosedUnder({ max_tokens: 10_000 }), 10_000);
    assert.equal(await chargedWhenClosedUnder({ max_tokens: 10_000, n: 128 }), 1_280_000);
    assert.equal(await chargedWhenClosedUnder({ max_tokens: 10_000, n: 1e12 }), 1_280_000, 'at most 128 answers');
  });

  it('charges a stream it cut the output its request allowed, not what had arrived', async () => {
    assert.equal(
      await chargedWhenClosedUnder({ stream: true, max_completion_tokens: 100_000, reasoning_effort: 'high' }),
      100_000,
    );
  });

  it("charges an Anthropic stream cut while it thinks its max_tokens, not its opening event's one token", async () => {
    const thinking = { stream: true, max_tokens: 64_000, thinking: { type: 'enabled', budget_tokens: 32_000 } };
    assert.equal(await chargedWhenClosedUnder(thinking, 'anthropic-messages'), 64_000);
  });

  it('charges a cut stream whose answer had begun what arrived, as an honest run killed mid-answer', async () => {
    assert.equal(await chargedWhenClosedUnder({ stream: true, max_tokens: 32_000, user: 'writes' }), 3);
  });

  it('takes the largest output limit a request names', async () => {
    assert.equal(await chargedWhenClosedUnder({ max_tokens: 1, max_completion_tokens: 100_000 }), 100_000);
  });
});
