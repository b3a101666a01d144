/**
 * A model upstream with no key was checked against nothing: a registration could point it at the
 * worker's loopback (Temporal's HTTP API, which started workflows and listed the namespace's runs
 * for the sandbox), its private network or cloud metadata, and a `?` at the end of its URL made the
 * agent's path query text, so any path of that host took the agent's GETs and JSON (found in
 * review). Now such an upstream reaches the worker's network only where the operator lists it
 * (ARBITER_PRIVATE_UPSTREAMS), a name is checked at the address it is dialled on, and a base URL
 * with a query, fragment, credentials or backslash is refused at registration.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import { CommandConfigSchema, OpenAIConfigSchema } from '../../domain/agent';
import { startModelGateway } from '../../host/gateway/server';
import { onWorkerNetwork } from '../../host/gateway/worker-network';
import { upsertAgent } from '../../db/agents';
import { addCommandAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { TEST_MODEL_KEYS, testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';

describe("key-less model upstreams and the worker's network", function () {
  this.timeout(60_000);
  let service: http.Server;
  let port: number;
  const seen: string[] = [];

  before(async () => {
    // A service of the worker's own, bound to loopback only.
    service = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ choices: [{ message: { content: 'host-only' } }], usage: {} })),
      );
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    port = (service.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => service.close(r)));
  beforeEach(() => {
    seen.length = 0;
  });

  async function callThrough(baseUrl: string, privateUpstreams: string[], apiKeyEnv?: string) {
    const gateway = await startModelGateway({
      db: testStack().database.db,
      secretEnv: (n) => (n === 'FAKE_KEY' ? 'sk-test' : undefined),
      modelKeys: TEST_MODEL_KEYS,
      privateUpstreams,
    });
    try {
      const upstream = { name: 'm', protocol: 'openai-chat' as const, baseUrl, ...(apiKeyEnv ? { apiKeyEnv } : {}) };
      const identity = { tenantId: 't', taskId: uniqueId('task'), runId: 'r', agentId: 'a', purpose: 'agent' as const };
      const session = await gateway.openSession(identity, { upstreams: [upstream], registries: [], budgets: {} });
      const body = Buffer.from(JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }));
      const res = await gateway.call(session, { method: 'POST', upstream: 'm', rest: 'chat/completions', body });
      await gateway.closeSession(session.id);
      return { status: res.status, text: res.body.toString('utf8') };
    } finally {
      await gateway.close();
    }
  }

  it('refuses a loopback address or a name that resolves to one, unless the operator lists it', async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const res = await callThrough(`http://${host}:${port}/v1`, []);
      assert.equal(res.status, 403, res.text);
      assert.match(
        res.text,
        /is on the worker's own network \(127\.0\.0\.1\); the operator lists such hosts in ARBITER_PRIVATE_UPSTREAMS/,
      );
    }
    assert.deepEqual(seen, [], 'nothing reached the host service');
    for (const [host, listed] of [
      ['127.0.0.1', '127.0.0.1'],
      ['localhost', `localhost:${port}`],
    ]) {
      const res = await callThrough(`http://${host}:${port}/v1`, [listed]);
      assert.equal(res.status, 200, res.text);
    }
    assert.equal(seen.length, 2);
  });

  it("control: a keyed upstream goes where the operator's key rule names, loopback included", async () => {
    const res = await callThrough(`http://127.0.0.1:${port}/v1`, [], 'FAKE_KEY');
    assert.equal(res.status, 200, res.text);
  });

  it("a worker that does not list the host fails a command or openai agent's run as its configuration, before any call", async () => {
    const stack = testStack();
    const taskQueue = uniqueId('worker-network-queue');
    const started = await stack.startWorker(taskQueue, traversableTempDir('arbiter-worker-network-'), {
      privateUpstreams: [],
    });
    const client = await clientOnQueue(taskQueue);
    try {
      const baseUrl = `http://localhost:${port}/v1`;
      const cmdTenant = uniqueId('tenant');
      await addCommandAgent(cmdTenant, 'cat >/dev/null', {
        gateway: { upstreams: [{ name: 'm', protocol: 'openai-chat', baseUrl }] },
      });
      const gptTenant = uniqueId('tenant');
      await upsertAgent(stack.database.db, {
        id: uniqueId('gpt'),
        tenantId: gptTenant,
        kind: 'openai',
        config: { baseUrl, model: 'fake-gpt' },
        capabilities: { taskTypes: ['feature'] },
      });
      for (const tenant of [cmdTenant, gptTenant]) {
        const input = await taskInput(tenant);
        await client.submit(input);
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'FAILED', JSON.stringify(final));
        assert.match(
          final.error?.message ?? '',
          /localhost:\d+ is on the worker's own network.*ARBITER_PRIVATE_UPSTREAMS/,
        );
        assert.equal(final.error?.type, 'AgentConfigError', JSON.stringify(final.error));
      }
      assert.deepEqual(seen, [], 'nothing reached the host service');
    } finally {
      await client.close();
      await stopWorker(started);
    }
  });

  it('a base URL that would make the agent choose the path is refused at registration', () => {
    for (const baseUrl of [
      `http://127.0.0.1:${port}/internal/admin?x=`,
      'https://api.example.com/v1#',
      'https://user:pass@api.example.com/v1',
      'https://api.example.com\\@evil.example/v1',
      'ftp://api.example.com/v1',
    ]) {
      const command = CommandConfigSchema.safeParse({
        argv: ['agent'],
        gateway: { upstreams: [{ name: 'm', protocol: 'openai-chat', baseUrl }] },
      });
      assert.equal(command.success, false, baseUrl);
      assert.match(JSON.stringify(command.error?.issues), /plain http\(s\) URL|must be a URL/, baseUrl);
      assert.equal(OpenAIConfigSchema.safeParse({ baseUrl, model: 'm' }).success, false, baseUrl);
    }
    assert.ok(OpenAIConfigSchema.safeParse({ baseUrl: 'http://localhost:11434/v1', model: 'm' }).success);
  });

  it("every address of the worker's own interfaces, and the special-use ranges, are the worker's network", () => {
    const own = Object.values(os.networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
    assert.ok(own.length > 0);
    for (const address of own) assert.ok(onWorkerNetwork(address), address);
    for (const address of ['192.0.2.7', '198.18.0.1', '203.0.113.9', '::ffff:127.0.0.1', '2002:7f00:1::', '::7f00:1'])
      assert.ok(onWorkerNetwork(address), address);
    for (const address of ['8.8.8.8', '2606:4700::1111']) assert.ok(!onWorkerNetwork(address), address);
  });

  it("a public address of the worker's, written IPv4-mapped too (a dual-stack socket dials it as itself)", () => {
    const eth0 = {
      address: '34.120.1.2',
      netmask: '255.255.255.0',
      family: 'IPv4',
      mac: '',
      internal: false,
      cidr: null,
    };
    const interfaces = { eth0: [eth0 as os.NetworkInterfaceInfo] };
    for (const address of ['34.120.1.2', '::ffff:34.120.1.2', '::ffff:2278:102'])
      assert.ok(onWorkerNetwork(address, interfaces), address);
    assert.ok(!onWorkerNetwork('34.120.1.3', interfaces));
  });
});
