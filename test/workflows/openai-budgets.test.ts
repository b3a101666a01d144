/**
 * The openai loop's limits and what its runs are charged, held by the worker and its gateway, not
 * by the workflow's count alone (found in review): a model call that failed the run erased the
 * usage of every turn before it; replies the gateway charged but the loop dropped (no choices)
 * never counted against `maxTokens`; fractional counts were 0 tokens to the loop and billed by the
 * gateway; one turn's commands ran far past `maxWallClockSeconds`; and workflow code of an
 * insider's own, calling `callModel` itself, had no limit at all.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { upsertAgent } from '../../db/agents';
import { agentOutcomes, modelCalls, sandboxEvents } from '../../db/schema';
import type { TaskInput } from '../../domain/task';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply, type FakeScript } from '../helpers/fake-openai';
import { makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

const KEY_ENV = 'FAKE_OPENAI_KEY';
const MODEL = 'fake-gpt';
const PRICING = { inputPerMillion: 3, outputPerMillion: 15 };
const FEATURE = 'module.exports = () => 42;\n';
type Ref = { tenantId: string; taskId: string };

const CHECK = 'require("./src/feature.js")() === 42 || process.exit(3)';

/** A task whose gate checks the feature, after `gateDelayMs`. */
async function taskFor(tenantId: string, gateDelayMs = 0): Promise<TaskInput & Ref & { repo: string }> {
  const check = gateDelayMs ? `setTimeout(() => { ${CHECK} }, ${gateDelayMs})` : CHECK;
  return {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId, makeRepo({ 'src/app.js': 'module.exports = 1;\n', 'README.md': '# t\n' })),
    gates: [{ name: 'check', argv: ['node', '-e', check] }],
  };
}

async function addAgent(tenantId: string, baseUrl: string, config: Record<string, unknown> = {}) {
  return upsertAgent(testStack().database.db, {
    id: uniqueId('gpt'),
    tenantId,
    kind: 'openai',
    config: { baseUrl, model: MODEL, apiKeyEnv: KEY_ENV, pricing: PRICING, ...config },
    capabilities: { taskTypes: ['feature'] },
    maxConcurrency: 10,
  });
}

async function outcomeOf(ref: Ref) {
  const [o] = await testStack()
    .database.db.select()
    .from(agentOutcomes)
    .where(and(eq(agentOutcomes.tenantId, ref.tenantId), eq(agentOutcomes.taskId, ref.taskId)));
  return o;
}

async function gatewayTokens(ref: Ref) {
  const rows = await testStack()
    .database.db.select()
    .from(modelCalls)
    .where(and(eq(modelCalls.tenantId, ref.tenantId), eq(modelCalls.taskId, ref.taskId)));
  return {
    calls: rows.length,
    tokens: rows.reduce((s, r) => s + r.inputTokens + r.outputTokens, 0),
    cost: rows.reduce((s, r) => s + r.costUsd, 0),
  };
}

describe('openai loop: limits and usage the worker holds', function () {
  this.timeout(180_000);
  let fake: FakeOpenAI | undefined;
  let server: http.Server | undefined;
  let apiKey: string;

  beforeEach(() => {
    apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
  });
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
    if (server) await new Promise((r) => server!.close(r));
    server = undefined;
  });

  it('a run failed by a model call (its context overflowed) is charged the turns before it', async () => {
    const script: FakeScript = () => ({
      toolCalls: [{ name: 'list_files', arguments: {} }],
      usage: { prompt: 90_000, completion: 9_000 },
    });
    fake = await startFakeOpenAI({ script, apiKey });
    fake.failTurn(3, 400, 1, {
      message: "This model's maximum context length is 8192 tokens.",
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
    });
    const tenant = uniqueId('tenant');
    await addAgent(tenant, fake.baseUrl);
    const input = await taskFor(tenant);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    const outcome = await outcomeOf(input);
    assert.equal(final.error?.type, 'AgentFailedError');
    assert.equal(outcome?.tokens, 2 * 99_000, 'the two completed turns are charged to the task outcome');
  });

  it('replies the gateway charged and the loop dropped (no choices) count against maxTokens', async () => {
    const seen = new Map<number, number>();
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as { messages: Array<{ role: string }> };
        const turn = body.messages.filter((m) => m.role === 'assistant').length + 1;
        const n = (seen.get(turn) ?? 0) + 1;
        seen.set(turn, n);
        const doc =
          n <= 3
            ? { usage: { prompt_tokens: 50_000, completion_tokens: 50_000 } } // billed, no choices
            : {
                choices: [
                  {
                    message:
                      turn === 1
                        ? {
                            role: 'assistant',
                            content: null,
                            tool_calls: [
                              {
                                id: 'c1',
                                type: 'function',
                                function: {
                                  name: 'file_write',
                                  arguments: JSON.stringify({ path: 'src/feature.js', content: FEATURE }),
                                },
                              },
                            ],
                          }
                        : { role: 'assistant', content: 'done' },
                  },
                ],
                usage: { prompt_tokens: 10, completion_tokens: 10 },
              };
        const text = JSON.stringify(doc);
        res.writeHead(200, { 'content-type': 'application/json' }).end(text);
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    const tenant = uniqueId('tenant');
    await addAgent(tenant, baseUrl, { maxTokens: 1000 });
    const input = await taskFor(tenant);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    const gw = await gatewayTokens(input);
    assert.ok(gw.tokens > 1000, 'the gateway recorded more than maxTokens');
    assert.equal(final.state, 'FAILED', 'a run that spent past maxTokens is stopped');
    assert.match(final.error?.message ?? '', /model budget is spent: token budget exceeded/);
    assert.ok(gw.calls <= 2, `${gw.calls} calls: refused once the budget was spent`);
    assert.equal((await outcomeOf(input))?.tokens, gw.tokens, 'the outcome is charged what the gateway charged');
  });

  it('fractional usage counts as the gateway bills it: past maxTokens, the run fails', async () => {
    const script: FakeReply[] = [
      { toolCalls: [{ name: 'list_files', arguments: {} }], usage: { prompt: 400_000.5, completion: 100_000.5 } },
      {
        toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }],
        usage: { prompt: 400_000.5, completion: 100_000.5 },
      },
      { content: 'Done.', usage: { prompt: 400_000.5, completion: 100_000.5 } },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    const tenant = uniqueId('tenant');
    await addAgent(tenant, fake.baseUrl, { maxTokens: 1000 });
    const input = await taskFor(tenant);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED', '1.5M tokens against a maxTokens of 1000');
    assert.match(final.error?.message ?? '', /used 500000 tokens, over its limit of 1000/);
  });

  it("one turn's commands stop at maxWallClockSeconds, not after the turn", async () => {
    const sleepers = Array.from({ length: 8 }, () => ({
      name: 'run_command',
      arguments: { argv: ['node', '-e', 'setTimeout(()=>{}, 2000)'] },
    }));
    const script: FakeReply[] = [
      { toolCalls: sleepers },
      { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
      { content: 'Done.' },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    const tenant = uniqueId('tenant');
    await addAgent(tenant, fake.baseUrl, { maxWallClockSeconds: 3 });
    const input = await taskFor(tenant);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.match(final.error?.message ?? '', /ran past its wall-clock limit of 3s/);
    const rows = await testStack()
      .database.db.select()
      .from(sandboxEvents)
      .where(and(eq(sandboxEvents.tenantId, input.tenantId), eq(sandboxEvents.taskId, input.taskId)));
    const agentCmds = rows.filter((r) => r.kind === 'command' && r.op === 'agent').length;
    assert.ok(agentCmds <= 2, `${agentCmds} commands of 2 s each ran under a 3 s wall-clock limit`);
  });

  // The worker's clock is the workflow's agent clock: counted from the run's first conversation, it
  // took a slow gate between attempts for the agent's time and failed an honest retry (found in review).
  it("a retry after a gate slower than the agent's wall-clock limit still has the agent's own time", async () => {
    const write = (content: string): FakeReply => ({
      toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content } }],
    });
    const script: FakeReply[] = [
      write('module.exports = () => 41;\n'),
      { content: 'Done.' },
      write(FEATURE),
      { content: 'Fixed.' },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    const tenant = uniqueId('tenant');
    await addAgent(tenant, fake.baseUrl, { maxWallClockSeconds: 4 });
    const input = await taskFor(tenant, 5_000);
    await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts.length, 1, 'the first attempt failed its gate, the retry passed');
  });
});
