/**
 * An agent's registration names an upstream's URL and the worker variable its key is read from.
 * Before ARBITER_MODEL_KEYS, a registration could name any variable of the worker (a cloud
 * credential) or a real model key, with a URL of its own, and the gateway sent the value there.
 * A worker now sends a key only to the hosts its operator lists (the presets' vendors when unset):
 * the gateway refuses the call, and the agent steps refuse the run before it starts.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MODEL_KEYS, parseModelKeys, type ModelKeyRule } from '../../domain/model-keys';
import { startModelGateway, type ModelGateway } from '../../host/gateway/server';
import type { SessionGrant } from '../../host/gateway/session';
import { addCommandAgent, addOpenAIAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';

const SECRETS: Record<string, string> = {
  CLOUD_SECRET: 'cloud-secret-of-the-worker-host',
  OPENAI_API_KEY: 'sk-operators-openai-key',
};
const secretEnv = (name: string) => SECRETS[name];

describe('model keys go only to the hosts the worker lists', function () {
  this.timeout(120_000);
  let upstream: http.Server;
  let origin: string;
  const seen: string[] = [];

  before(async () => {
    // Whatever a registration pointed the key at: it records the key it was sent.
    upstream = http.createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ choices: [{ message: { content: 'hi' } }], usage: {} }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  });
  after(() => new Promise((r) => upstream.close(r)));
  beforeEach(() => {
    seen.length = 0;
  });

  const rules = (text: string): ModelKeyRule[] => {
    const parsed = parseModelKeys(text);
    assert.ok('rules' in parsed, JSON.stringify(parsed));
    return parsed.rules;
  };

  async function callThrough(modelKeys: readonly ModelKeyRule[], apiKeyEnv: string) {
    const gateway: ModelGateway = await startModelGateway({ db: testStack().database.db, secretEnv, modelKeys });
    try {
      const grant: SessionGrant = {
        upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: `${origin}/v1`, apiKeyEnv }],
        registries: [],
        budgets: {},
      };
      const identity = { tenantId: 't', taskId: uniqueId('task'), runId: 'r', agentId: 'a', purpose: 'agent' as const };
      const session = await gateway.openSession(identity, grant);
      const body = Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }));
      const res = await gateway.call(session, { method: 'POST', upstream: 'model', rest: 'chat/completions', body });
      await gateway.closeSession(session.id);
      return { status: res.status, text: res.body.toString('utf8') };
    } finally {
      await gateway.close();
    }
  }

  it("the gateway refuses to send a worker's other secret, or a real model key, to a registration's own host", async () => {
    for (const name of ['CLOUD_SECRET', 'OPENAI_API_KEY']) {
      const res = await callThrough(DEFAULT_MODEL_KEYS, name);
      assert.equal(res.status, 403, res.text);
      assert.match(
        res.text,
        new RegExp(`sends ${name} (only to api\\.openai\\.com|to no host), not to http://127\\.0\\.0\\.1`),
      );
    }
    const port = new URL(origin).port;
    assert.equal((await callThrough(rules(`CLOUD_SECRET@127.0.0.1:${Number(port) + 1}`), 'CLOUD_SECRET')).status, 403);
    assert.deepEqual(seen, [], 'no key reached the host');
  });

  it('control: a key the operator lists for that host is sent', async () => {
    const port = new URL(origin).port;
    for (const text of ['CLOUD_SECRET@127.0.0.1', `CLOUD_SECRET@127.0.0.1:${port}`]) {
      const res = await callThrough(rules(`OPENAI_API_KEY@api.openai.com, ${text}`), 'CLOUD_SECRET');
      assert.equal(res.status, 200, res.text);
    }
    assert.deepEqual(seen, [`Bearer ${SECRETS.CLOUD_SECRET}`, `Bearer ${SECRETS.CLOUD_SECRET}`]);
  });

  it("a worker with the default rules fails an openai or command agent's run naming the rule, before any call", async () => {
    const stack = testStack();
    const taskQueue = uniqueId('model-keys-queue');
    const started = await stack.startWorker(taskQueue, traversableTempDir('arbiter-model-keys-'), {
      secretEnv,
      modelKeys: DEFAULT_MODEL_KEYS,
    });
    const client = await clientOnQueue(taskQueue);
    try {
      const gptTenant = uniqueId('tenant');
      await addOpenAIAgent(gptTenant, `${origin}/v1`, 'OPENAI_API_KEY');
      const cmdTenant = uniqueId('tenant');
      // Its env guesses the secret's value: the refusal must not say whether the guess was right.
      await addCommandAgent(cmdTenant, 'cat >/dev/null', {
        env: { GUESS: SECRETS.CLOUD_SECRET },
        gateway: { upstreams: [{ name: 'm', protocol: 'openai-chat', baseUrl: origin, apiKeyEnv: 'CLOUD_SECRET' }] },
      });
      for (const [tenant, name] of [
        [gptTenant, 'OPENAI_API_KEY'],
        [cmdTenant, 'CLOUD_SECRET'],
      ]) {
        const input = await taskInput(tenant);
        await client.submit(input);
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'FAILED', JSON.stringify(final));
        const message = final.error?.message ?? '';
        assert.match(message, new RegExp(`sends ${name} .*ARBITER_MODEL_KEYS`), message);
        assert.doesNotMatch(
          message,
          /refused the request \(403\)|contains the value/,
          'refused before any call or comparison',
        );
      }
      assert.deepEqual(seen, [], 'no key reached the host');
    } finally {
      await client.close();
      await stopWorker(started);
    }
  });
});
