/**
 * What the gateway charges for tokens billed at other rates than plain input, and the serving
 * options it refuses because they bill above the upstream's prices: an agent in the real bwrap
 * sandbox calls a local upstream speaking Anthropic's and OpenAI's protocols, and the cost budget
 * must count what the calls really cost.
 */
import { REAL_KEY, runBehindGateway, startTestGateway } from './helpers';
import assert from 'node:assert/strict';
import { and, asc, eq } from 'drizzle-orm';
import { sandboxEvents } from '../../db/schema';
import { modelCallsOf } from '../../db/model-calls';
import type { Pricing } from '../../domain/agent';
import type { ModelGateway } from '../../host/gateway/server';
import type { GatewaySession, SessionGrant } from '../../host/gateway/session';
import { startFakeModels, type FakeModels } from '../helpers/fake-models/server';
import type { ScriptedUsage } from '../helpers/fake-models/script';
import { testStack } from '../helpers/stack';
import { sandboxTask, type SandboxTask } from '../sandbox/escape-helpers';

const PRICING: Pricing = { inputPerMillion: 3, outputPerMillion: 15 };
/** 107,000 input tokens, most of them from or into Anthropic's prompt cache. */
const CACHED: ScriptedUsage = { input: 1_000, output: 10, cache: { read: 100_000, write5m: 4_000, write1h: 2_000 } };

/** In the sandbox: posts each `[path, body]` of `CALLS` (JSON) to the gateway and prints its status. */
const postEach = (calls: Array<[string, object]>): string[] => [
  'node',
  '-e',
  `(async () => {
    for (const [path, body] of ${JSON.stringify(calls)}) {
      const res = await fetch(process.env.GW + '/' + path, { method: 'POST', body: JSON.stringify(body),
        headers: { 'x-api-key': process.env.TOKEN, authorization: 'Bearer ' + process.env.TOKEN, 'content-type': 'application/json' } });
      console.log('STATUS', res.status, (await res.text()).slice(0, 300).replace(/\\n/g, ' '));
    }
  })().catch((e) => { console.log('ERR', e.message); process.exit(3); });`,
];

const statusesOf = (output: string) => [...output.matchAll(/STATUS (\d+)/g)].map((m) => Number(m[1]));

describe('model gateway pricing', function () {
  this.timeout(60_000);
  let gateway: ModelGateway;
  let upstream: FakeModels;
  let t: SandboxTask;
  let runs = 0;

  before(async () => {
    gateway = await startTestGateway();
    upstream = await startFakeModels({ apiKey: REAL_KEY, script: () => ({ text: 'ok', usage: CACHED }) });
    t = await sandboxTask();
  });
  after(async () => {
    await t.release();
    await upstream.close();
    await gateway.close();
  });

  const grant = (pricing: Pricing, budgets: SessionGrant['budgets'] = {}): SessionGrant => ({
    upstreams: [
      { name: 'claude', protocol: 'anthropic-messages', baseUrl: upstream.origin, apiKeyEnv: 'FAKE_KEY', pricing },
      { name: 'chat', protocol: 'openai-chat', baseUrl: upstream.origin, apiKeyEnv: 'FAKE_KEY', pricing },
      { name: 'resp', protocol: 'openai-responses', baseUrl: upstream.origin, apiKeyEnv: 'FAKE_KEY', pricing },
    ],
    registries: [],
    budgets,
  });

  const open = (g: SessionGrant) =>
    gateway.openSession(
      { tenantId: t.tenantId, taskId: t.taskId, runId: `pricing-${++runs}`, agentId: 'agent-1', purpose: 'agent' },
      g,
    );

  const inSandbox = (session: GatewaySession, calls: Array<[string, object]>) =>
    runBehindGateway(t, gateway, session, postEach(calls), {
      env: { GW: 'http://127.0.0.1:8377/u', TOKEN: session.token },
    });

  // Each offers a tool, as an agent's turn does (the fake answers tool-less requests as side calls).
  const message = (extra: object = {}) => ({
    model: 'fake-model',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ name: 'f', input_schema: { type: 'object' } }],
    ...extra,
  });
  const chat = (extra: object = {}) => ({
    model: 'fake-model',
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
    ...extra,
  });

  // Before: every input token was charged the input price, so the 6,000 written cost $0.018, not $0.027.
  it('charges Anthropic cache writes at their rates, so the cost budget stops an agent that spends through them', async () => {
    const session = await open(grant(PRICING, { maxCostUsd: 0.325 }));
    const run = await inSandbox(session, [
      ['claude/v1/messages', message()],
      ['claude/v1/messages', message({ stream: true })],
    ]);
    assert.deepEqual(statusesOf(run.outputTail), [200, 429], run.outputTail);
    const [call] = await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, session.identity.runId);
    assert.equal(call.inputTokens, 107_000);
    // 1,000 × $3 + 100,000 read × $3 (no cached price given) + 4,000 × $3.75 + 2,000 × $6, and 10 × $15, per million.
    assert.ok(Math.abs(call.costUsd - 0.33015) < 1e-9, String(call.costUsd));
    assert.match(session.stoppedFor ?? '', /cost budget exceeded/);
  });

  it('charges cache reads and cached input at the cached price when the upstream has one, streamed or not', async () => {
    const session = await open(grant({ ...PRICING, cachedInputPerMillion: 0.3 }));
    const run = await inSandbox(session, [
      ['claude/v1/messages', message()],
      ['claude/v1/messages', message({ stream: true })],
      ['chat/v1/chat/completions', chat()],
    ]);
    assert.deepEqual(statusesOf(run.outputTail), [200, 200, 200], run.outputTail);
    const costs = (await modelCallsOf(testStack().database.db, t.tenantId, t.taskId, session.identity.runId)).map(
      (c) => Math.round(c.costUsd * 1e8) / 1e8,
    );
    // Chat reports no cache writes: 1,000 plain and 100,000 cached input. A streamed call is recorded
    // when its stream ends, which may come after the next call's record: compared in order of cost.
    assert.deepEqual(
      costs.sort((x, y) => x - y),
      [0.03315, 0.06015, 0.06015],
    );
  });

  it('refuses, unsent and audited, a request for premium serving; forwards the standard tiers', async () => {
    const session = await open(grant(PRICING));
    const refused: Array<[string, object]> = [
      ['chat/v1/chat/completions', chat({ service_tier: 'priority' })],
      [
        'resp/v1/responses',
        {
          model: 'fake-model',
          input: 'hi',
          tools: [{ type: 'function', name: 'f', parameters: {} }],
          service_tier: 'fast',
        },
      ],
      ['claude/v1/messages', message({ speed: 'fast' })],
      ['chat/v1/chat/completions', chat({ service_tier: { tier: 'default' } })],
    ];
    const allowed: Array<[string, object]> = [
      ['chat/v1/chat/completions', chat({ service_tier: 'flex' })],
      ['claude/v1/messages', message({ service_tier: 'standard_only', speed: 'standard' })],
    ];
    const before = upstream.turns().length;
    const run = await inSandbox(session, [...refused, ...allowed]);
    assert.deepEqual(statusesOf(run.outputTail), [403, 403, 403, 403, 200, 200], run.outputTail);
    assert.equal(upstream.turns().length - before, allowed.length, 'no refused request reached the upstream');
    const reasons = (
      await testStack()
        .database.db.select()
        .from(sandboxEvents)
        .where(and(eq(sandboxEvents.taskId, t.taskId), eq(sandboxEvents.kind, 'gateway')))
        .orderBy(asc(sandboxEvents.id))
    )
      .filter((e) => (e.detail as { runId?: string }).runId === session.identity.runId)
      .map((e) => e.reason);
    assert.equal(reasons.length, refused.length);
    assert.match(reasons[0] ?? '', /`service_tier` "priority" is billed above the upstream's prices/);
    assert.match(reasons[2] ?? '', /`speed` "fast" is billed above/);
  });
});
