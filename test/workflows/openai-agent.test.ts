/**
 * The `openai` agent kind end to end against a local chat-completions server with scripted tool
 * calls, on the real stack: the conversation drives the sandbox's tools, the transcript lands in
 * PostgreSQL, usage and cost are recorded per turn and summed into the agent's statistics, the
 * API key never leaves the worker, limits fail the task as the agent's fault, and a worker
 * killed mid-conversation is replaced without any model call or tool call made twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { MAX_TOOL_CALLS_PER_TURN } from '../../activities/model-reply';
import { parseSpecYaml } from '../../activities/spec-yaml';
import { validateWorkingSpec } from '../../domain/spec';
import { upsertAgent } from '../../db/agents';
import { agentOutcomes, agentStats, conversationMessages, conversations, sandboxEvents } from '../../db/schema';
import type { ModelReply, StartedConversation, PreparedWorkspace, ValidateSpecResult } from '../../domain/activity-io';
import { AGENT_TOOL_NAMES } from '../../domain/agent-tools';
import type { TaskInput } from '../../domain/task';
import { conversationWorkflowId, taskWorkflowId } from '../../temporal-config';
import { startFakeOpenAI, type FakeOpenAI, type FakeReply, type FakeScript } from '../helpers/fake-openai';
import {
  circuitOf,
  gitIn,
  makeRepo,
  registeredPath,
  registerRepo,
  repoDir,
  specYaml,
  uniqueId,
} from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { ownTask, prepareOwned, routeTo } from '../helpers/tasks';
import { waitFor } from '../helpers/wait';
import { SILENT_LOGGER } from '../../workers/logger';
import { decodedHistory, occurrences } from '../helpers/history';
import { traversableTempDir } from '../helpers/temp';
import { withInsertsRefused } from '../helpers/refuse-inserts';
import { clientOnQueue, killHard, stopWorker, workerProcessPerTest } from '../helpers/worker-process';

const KEY_ENV = 'FAKE_OPENAI_KEY';
const MODEL = 'fake-gpt';
const PRICING = { inputPerMillion: 3, outputPerMillion: 15 };
const FEATURE = 'module.exports = () => 42;\n';
/** Past the 300-character summary a tool result may leave in history: must stay in PostgreSQL only. */
const DEEP_MARKER = `deep-marker-${randomBytes(6).toString('hex')}`;
/** In the spec only: history may hold it in the task's input and its validation result, nowhere else. */
const SPEC_MARKER = `spec-marker-${randomBytes(6).toString('hex')}`;
const APP_JS = `module.exports = 1;\n/*${'.'.repeat(2000)}*/\n// ${DEEP_MARKER}\n`;

type Ref = { tenantId: string; taskId: string };
type ToolResult = { ok: boolean; summary: string };

async function taskFor(tenantId: string, extra: Partial<TaskInput> = {}): Promise<TaskInput & Ref & { repo: string }> {
  return {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId, makeRepo({ 'src/app.js': APP_JS, 'README.md': '# target\n' })),
    gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] }],
    ...extra,
  };
}

async function addOpenAIAgent(tenantId: string, fake: FakeOpenAI, config: Record<string, unknown> = {}) {
  return upsertAgent(testStack().database.db, {
    id: uniqueId('gpt'),
    tenantId,
    kind: 'openai',
    config: { baseUrl: fake.baseUrl, model: MODEL, apiKeyEnv: KEY_ENV, pricing: PRICING, ...config },
    capabilities: { taskTypes: ['feature'] },
    maxConcurrency: 10,
  });
}

/**
 * A task's run, open (no worker polls its queue), and the activities run as its steps: the
 * conversation's steps work only for a live run.
 */
async function openTaskRun(tenantId: string) {
  const ref = { tenantId, taskId: uniqueId('task') };
  const run = await testStack().client.temporal.workflow.start('taskLifecycle', {
    taskQueue: uniqueId('nobody-polls'),
    workflowId: taskWorkflowId(ref),
    args: [{}],
  });
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: run.workflowId, runId: run.firstExecutionRunId } },
    { logger: SILENT_LOGGER, client: testStack().client.temporal },
  );
  await ownTask(env, ref);
  return { ref, run, env, a: createActivities(testActivityDeps()) };
}

async function transcript(ref: Ref) {
  const { db } = testStack().database;
  const convs = await db
    .select()
    .from(conversations)
    .where(and(eq(conversations.tenantId, ref.tenantId), eq(conversations.taskId, ref.taskId)));
  assert.equal(convs.length, 1, 'one conversation for the task');
  return db
    .select()
    .from(conversationMessages)
    .where(eq(conversationMessages.conversationId, convs[0].id))
    .orderBy(asc(conversationMessages.seq));
}

async function sandboxOps(ref: Ref) {
  const rows = await testStack()
    .database.db.select()
    .from(sandboxEvents)
    .where(and(eq(sandboxEvents.tenantId, ref.tenantId), eq(sandboxEvents.taskId, ref.taskId)))
    .orderBy(asc(sandboxEvents.id));
  return rows;
}

/** `{ op: count }` of the agent's file operations and commands (gates left out). */
function countOps(rows: Awaited<ReturnType<typeof sandboxOps>>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of rows) {
    if (r.kind === 'command' && r.op !== 'agent') continue;
    const key = r.kind === 'command' ? 'run_command' : r.op;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The task workflow's history as text, with every payload decoded (payload data is binary JSON). */
async function historyJson(ref: Ref): Promise<string> {
  const text = await decodedHistory(taskWorkflowId(ref));
  const { runId } = await testStack().client.temporal.workflow.getHandle(taskWorkflowId(ref)).describe();
  // Proof the payloads were decoded: the activity inputs name the conversation (its id names the run).
  assert.ok(text.includes(`${ref.tenantId}/${ref.taskId}/${runId}/1`), 'history payloads decoded');
  return text;
}

/** Asserts every assistant turn appears once, in order, and every tool call has exactly one result right after its turn. */
function assertWellFormed(messages: Awaited<ReturnType<typeof transcript>>, turns: number): void {
  assert.deepEqual(
    messages.map((m) => m.seq),
    messages.map((_, i) => i),
    'seq is dense',
  );
  assert.equal(messages[0].role, 'system');
  assert.equal(messages[1].role, 'user');
  const assistants = messages.filter((m) => m.role === 'assistant');
  assert.deepEqual(
    assistants.map((m) => m.turn),
    Array.from({ length: turns }, (_, i) => i + 1),
    'one assistant message per turn, no duplicate turns',
  );
  let expectTools: string[] = [];
  for (const m of messages.slice(2)) {
    if (m.role === 'assistant') {
      assert.deepEqual(expectTools, [], 'every tool call of the previous turn has its result before the next turn');
      expectTools = ((m.toolCalls as Array<{ id: string }> | null) ?? []).map((c) => c.id);
    } else {
      assert.equal(m.role, 'tool');
      assert.equal(m.toolCallId, expectTools.shift(), 'tool results follow their calls in order');
    }
  }
  assert.deepEqual(expectTools, []);
  const ids = messages.filter((m) => m.role === 'tool').map((m) => m.toolCallId);
  assert.equal(new Set(ids).size, ids.length, 'one tool message per call id');
}

describe('openai agent kind (fake chat-completions server, real stack)', function () {
  this.timeout(90_000);
  let fake: FakeOpenAI | undefined;
  let apiKey: string;

  beforeEach(() => {
    apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
  });

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  /** Starts the fake model on `script`, registers it for a new tenant and runs one task to its end. */
  async function runWithModel(script: FakeScript) {
    const model = await startFakeOpenAI({ script, apiKey });
    fake = model;
    const tenant = uniqueId('tenant');
    await addOpenAIAgent(tenant, model);
    const input = await taskFor(tenant);
    const { client } = testStack();
    await client.submit(input);
    return { tenant, input, model, final: await client.watch(input, undefined, 200) };
  }

  it('runs a tool-calling conversation to COMPLETED: transcript, tools once each, usage and cost, key kept secret', async () => {
    const script: FakeReply[] = [
      { toolCalls: [{ name: 'list_files', arguments: {} }], usage: { prompt: 1000, completion: 50 } },
      {
        toolCalls: [{ name: 'file_read', arguments: { path: 'src/app.js' } }],
        usage: { prompt: 1200, completion: 60 },
      },
      {
        content: 'Adding the feature.',
        toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }],
        usage: { prompt: 2000, completion: 70 },
      },
      {
        toolCalls: [{ name: 'run_command', arguments: { argv: ['node', '-e', "require('./src/feature.js')"] } }],
        usage: { prompt: 2100, completion: 40 },
      },
      { content: 'Done: src/feature.js exports a function returning 42.', usage: { prompt: 2200, completion: 30 } },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    const tenant = uniqueId('tenant');
    const agent = await addOpenAIAgent(tenant, fake);
    const input = await taskFor(tenant, { specYaml: specYaml({ invariants: [SPEC_MARKER] }) });

    const { client, database } = testStack();
    await client.submit(input);
    const final = await client.watch(input, undefined, 200);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.routing?.agentId, agent.id);
    assert.deepEqual(
      final.gates.map((g) => [g.name, g.status]),
      [
        ['budget', 'pass'],
        ['scope', 'pass'],
        ['spec', 'pass'],
        ['protected', 'pass'],
        ['tree', 'pass'],
        ['check', 'pass'],
      ],
    );
    assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`), FEATURE.trim());

    // The model was asked once per turn, with the tools, the key, and every earlier tool result.
    assert.deepEqual(
      fake.requests.map((r) => [r.turn, r.outcome]),
      script.map((_, i) => [i + 1, 'completed']),
    );
    for (const r of fake.requests) {
      assert.equal(r.model, MODEL);
      assert.equal(r.headers.authorization, `Bearer ${apiKey}`);
      assert.deepEqual(
        r.tools.map((t) => t.function.name),
        [...AGENT_TOOL_NAMES],
      );
    }
    const first = fake.requests[0].messages;
    assert.deepEqual(
      first.map((m) => m.role),
      ['system', 'user'],
    );
    assert.match(first[1].content ?? '', /Test change/, 'the task prompt is built from the spec');
    const toolResult = (turn: number, callId: string) =>
      fake!.requestsFor(turn)[0].messages.find((m) => m.role === 'tool' && m.tool_call_id === callId)?.content ?? '';
    assert.match(toolResult(2, 'call_1_0'), /src\/app\.js/, 'list_files result reaches the model');
    assert.match(toolResult(3, 'call_2_0'), new RegExp(DEEP_MARKER), 'file_read result carries the whole file');
    assert.match(toolResult(4, 'call_3_0'), /^wrote \d+ bytes/);
    assert.match(toolResult(5, 'call_4_0'), /^exit 0/, 'run_command ran the new module');
    assert.equal(fake.requestsFor(5)[0].messages.filter((m) => m.role === 'tool').length, 4);

    // The transcript in PostgreSQL: system, user, then assistant turns each followed by their tool results.
    const messages = await transcript(input);
    assert.deepEqual(
      messages.map((m) => m.role),
      [
        'system',
        'user',
        'assistant',
        'tool',
        'assistant',
        'tool',
        'assistant',
        'tool',
        'assistant',
        'tool',
        'assistant',
      ],
    );
    assertWellFormed(messages, 5);
    const readResult = messages.find((m) => m.role === 'tool' && m.toolCallId === 'call_2_0');
    assert.ok(readResult?.content?.includes(DEEP_MARKER), 'the file_read result holds the file content');
    assert.equal(messages.at(-1)?.content, script[4].content);

    // Usage and cost per turn, summed into the agent's statistics.
    const assistants = messages.filter((m) => m.role === 'assistant');
    let tokens = 0;
    let cost = 0;
    for (const [i, m] of assistants.entries()) {
      const usage = script[i].usage!;
      assert.equal(m.promptTokens, usage.prompt);
      assert.equal(m.completionTokens, usage.completion);
      const expected = (usage.prompt * PRICING.inputPerMillion + usage.completion * PRICING.outputPerMillion) / 1e6;
      assert.ok(Math.abs((m.costUsd ?? -1) - expected) < 1e-12, `turn ${i + 1} cost ${m.costUsd} ≠ ${expected}`);
      tokens += usage.prompt + usage.completion;
      cost += expected;
    }
    const [stats] = await database.db
      .select()
      .from(agentStats)
      .where(and(eq(agentStats.tenantId, tenant), eq(agentStats.agentId, agent.id)));
    assert.equal(stats.tasks, 1);
    assert.equal(stats.totalTokens, tokens);
    assert.ok(Math.abs(stats.totalCostUsd - cost) < 1e-9, `total cost ${stats.totalCostUsd} ≠ ${cost}`);
    const [outcome] = await database.db
      .select()
      .from(agentOutcomes)
      .where(and(eq(agentOutcomes.tenantId, tenant), eq(agentOutcomes.taskId, input.taskId)));
    assert.equal(outcome.tokens, tokens);

    // Each tool call ran exactly once in the sandbox.
    const ops = await sandboxOps(input);
    assert.deepEqual(countOps(ops), { list_files: 1, file_read: 1, file_write: 1, run_command: 1 });
    assert.ok(
      ops.every((r) => r.allowed),
      'nothing refused',
    );

    // The key never reaches history or the transcript; history holds no full transcript either.
    const history = await historyJson(input);
    assert.ok(!history.includes(apiKey), 'the API key is not in workflow history');
    assert.ok(!history.includes(DEEP_MARKER), 'tool results beyond their summary stay out of workflow history');
    assert.ok(!JSON.stringify(messages).includes(apiKey), 'the API key is not in the transcript');
    // The spec travels by reference: in the task's history only its input and its validation
    // result hold it; the conversation child (and its every tool call) never does.
    assert.equal(
      occurrences(history, SPEC_MARKER),
      1,
      'the spec: in the input YAML only (validation returns its essentials)',
    );
    const { runId } = await client.temporal.workflow.getHandle(taskWorkflowId(input)).describe();
    const child = await decodedHistory(conversationWorkflowId(`${tenant}/${input.taskId}/${runId}/1`));
    assert.ok(child.includes(`spec/${tenant}/${input.taskId}/${runId}`), 'the child names the stored spec');
    assert.equal(occurrences(child, SPEC_MARKER), 0, 'the conversation child never carries the spec');
  });

  // A hostile (or sloppy) endpoint: a call id its last turn used again, a negative token count, and a tool
  // result holding NUL. Before: the second call_0 was answered from the first and never ran, the outcome was
  // refused (negative tokens) and not recorded, and a NUL in a result failed the run as the host's.
  it('runs a call id an earlier turn used, records the outcome of absurd usage, and keeps a NUL in a result', async () => {
    const script: FakeReply[] = [
      {
        toolCalls: [
          {
            id: 'call_0',
            name: 'run_command',
            arguments: { argv: ['node', '-e', "process.stdout.write('nul\\0here')"] },
          },
        ],
        usage: { prompt: -1_000_000, completion: 5 },
      },
      { toolCalls: [{ id: 'call_0', name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
      { content: 'Done.' },
    ];
    const { tenant, input, final } = await runWithModel(script);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`), FEATURE.trim());
    const messages = await transcript(input);
    const [first, second] = messages.filter((m) => m.role === 'assistant');
    assert.equal(first.toolCalls?.[0].id, 'call_0');
    assert.notEqual(second.toolCalls?.[0].id, 'call_0', 'the reused id is replaced');
    assert.equal(first.promptTokens, 0, 'a negative count is no count');
    assert.ok(
      messages.some((m) => m.role === 'tool' && m.content?.includes('nul\\0here')),
      'the NUL is kept, escaped',
    );
    const outcomes = await testStack()
      .database.db.select()
      .from(agentOutcomes)
      .where(and(eq(agentOutcomes.tenantId, tenant), eq(agentOutcomes.taskId, input.taskId)));
    assert.equal(outcomes.length, 1, 'the outcome is recorded');
  });

  // Each turn sends the whole transcript: replies of several MiB grew every request, and the worker's memory with it.
  it("a conversation past the 32 MiB a request may carry fails the run as the agent's, before it is sent", async () => {
    const big = 'x'.repeat(7 * 1024 * 1024);
    const { final, model } = await runWithModel(() => ({
      content: big,
      toolCalls: [{ name: 'list_files', arguments: {} }],
    }));
    assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'AgentFailedError', JSON.stringify(final.error));
    assert.match(final.error?.message ?? '', /more than the 33554432 a request may carry/);
    assert.ok(model.requests.length <= 6, `${model.requests.length} requests were sent`);
  });

  it('returns a refused tool call to the model as an error result; the model recovers and the violation is listed', async () => {
    const script: FakeReply[] = [
      { toolCalls: [{ name: 'file_write', arguments: { path: 'README.md', content: '# hijacked\n' } }] },
      { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
      { content: 'Wrote the feature inside the allowed paths.' },
    ];
    const { input, final, model } = await runWithModel(script);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const refusal = model.requestsFor(2)[0].messages.find((m) => m.role === 'tool' && m.tool_call_id === 'call_1_0');
    assert.match(refusal?.content ?? '', /^error: /, 'the model sees the refusal as the tool result');
    assert.match(refusal?.content ?? '', /README\.md/);
    assert.deepEqual(
      model.requests.map((r) => r.turn),
      [1, 2, 3],
      'the conversation went on after the refusal',
    );
    assert.ok(
      final.violations.some((v) => v.op === 'file_write' && v.path === 'README.md'),
      `violations: ${JSON.stringify(final.violations)}`,
    );
    const refused = (await sandboxOps(input)).filter((r) => !r.allowed);
    assert.deepEqual(
      refused.map((r) => [r.op, r.path]),
      [['file_write', 'README.md']],
    );
    assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:README.md`), '# target');
    assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`), FEATURE.trim());
    const messages = await transcript(input);
    assertWellFormed(messages, 3);
  });

  it('a model cannot grow the run: a turn runs at most 32 calls, odd call ids are replaced, and the newest 100 refusals are kept, clipped', async () => {
    const longPath = `notes/${'a/'.repeat(2100)}f.md`;
    const flood = (): FakeReply => ({
      toolCalls: Array.from({ length: MAX_TOOL_CALLS_PER_TURN + 8 }, () => ({
        id: 'i'.repeat(10_000),
        name: 'file_write',
        arguments: { path: longPath, content: 'x' },
      })),
    });
    const { tenant, input, final, model } = await runWithModel([
      flood(),
      flood(),
      flood(),
      flood(),
      { content: 'gave up' },
      // The retry (the check gate failed), told why: it gives up again.
      { content: 'gave up again' },
    ]);

    assert.equal(final.violations.length, 100, 'four turns of 32 refusals: the newest 100 kept');
    for (const v of final.violations) assert.ok(v.path.length < 600, `a path kept at ${v.path.length} characters`);
    assert.match(final.violations[0].reason, /longer than a path may be \(4096 bytes, 255 a name\)/);
    const seen = model.requestsFor(2)[0].messages;
    const asked = seen.find((m) => m.role === 'assistant')?.tool_calls ?? [];
    assert.equal(asked.length, MAX_TOOL_CALLS_PER_TURN, 'the transcript holds the calls that ran');
    assert.deepEqual(
      asked.map((c) => c.id),
      asked.map((_, i) => `arbiter_1_${i}`),
    );
    assert.equal(seen.filter((m) => m.role === 'tool').length, MAX_TOOL_CALLS_PER_TURN, 'each answered');
    const { runId } = await testStack().client.temporal.workflow.getHandle(taskWorkflowId(input)).describe();
    const child = await decodedHistory(conversationWorkflowId(`${tenant}/${input.taskId}/${runId}/1`));
    assert.ok(child.includes('arbiter_4_31'), 'the conversation ran turn 4');
    assert.ok(!child.includes('i'.repeat(100)), 'no model-chosen id in the conversation history');
  });

  it('answers a model turn or a tool call already in the transcript from it, never asking or running it again', async () => {
    // What a retry after a crash between the model's answer (or the tool's effect) and the activity's completion sees.
    const script: FakeReply[] = [
      { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
      { content: 'done' },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    const tenant = uniqueId('tenant');
    const agent = await addOpenAIAgent(tenant, fake);
    const { ref, run, env, a } = await openTaskRun(tenant);
    // A prepared workspace: file tools write only for a task that holds its sandbox uid.
    const { workspacePath }: PreparedWorkspace = await prepareOwned(env, a, {
      ...ref,
      repoPath: await registeredPath(tenant),
    });
    const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: specYaml() });
    const spec = validated.specRef!;
    await routeTo(env, a, ref, agent.id);
    const conversationId = `${tenant}/${ref.taskId}/1`;
    const limits: StartedConversation = await env.run(a.startConversation, {
      ...ref,
      agentId: agent.id,
      conversationId,
      spec,
    });
    await env.run(a.startConversation, { ...ref, agentId: agent.id, conversationId, spec });
    assert.equal(limits.maxTurns, 30);

    const turn = { ...ref, agentId: agent.id, conversationId, turn: 1 };
    const first: ModelReply = await env.run(a.callModel, turn);
    const again: ModelReply = await env.run(a.callModel, turn);
    await assert.rejects(env.run(a.callModel, { ...turn, agentId: uniqueId('other') }), /was started for agent/);
    assert.deepEqual(again, first);
    assert.equal(fake.requests.length, 1, 'the stored turn is not requested again');
    assert.deepEqual(
      first.toolCalls.map((c) => [c.id, c.name]),
      [['call_1_0', 'file_write']],
    );

    const call = {
      ...ref,
      conversationId,
      turn: 1,
      callId: first.toolCalls[0].id,
      workspacePath,
      spec: limits.spec!,
    };
    // A whole spec of one's own would set the file tools' scope and tier.
    const checked = validateWorkingSpec(parseSpecYaml(specYaml()));
    assert.ok(checked.ok);
    const wide = { ...checked.spec, scope: { in: ['**'], out: [] }, riskTier: 3 as const };
    await assert.rejects(
      env.run(a.runToolCall, { ...call, spec: wide }),
      /an agent works to the spec task .* validated/,
    );
    const ran: ToolResult = await env.run(a.runToolCall, call);
    const ranAgain: ToolResult = await env.run(a.runToolCall, call);
    assert.equal(ran.ok, true, ran.summary);
    assert.equal(ranAgain.ok, true);
    assert.equal(ranAgain.summary, ran.summary);
    assert.equal(readFileSync(path.join(workspacePath, 'src/feature.js'), 'utf8'), FEATURE);
    assert.deepEqual(countOps(await sandboxOps(ref)), { file_write: 1 }, 'the stored tool call is not executed again');

    await env.run(a.callModel, { ...turn, turn: 2 });
    assert.deepEqual(
      fake.requests.map((r) => r.turn),
      [1, 2],
    );
    assertWellFormed(await transcript(ref), 2);
    await env.run(a.releaseWorkspace, ref);
    await run.terminate('test over');
  });

  it('opens the transcript whole on a retry after a first attempt that stopped between its writes, or a row left without it', async () => {
    // The database failing after the conversation's row was written, before its opening messages were.
    fake = await startFakeOpenAI({ script: [{ content: 'done' }], apiKey });
    const tenant = uniqueId('tenant');
    const agent = await addOpenAIAgent(tenant, fake);
    const { ref, run, env, a } = await openTaskRun(tenant);
    const validated: ValidateSpecResult = await env.run(a.validateSpec, {
      ...ref,
      specYaml: specYaml({ invariants: [SPEC_MARKER] }),
    });
    await routeTo(env, a, ref, agent.id);
    const start = { ...ref, agentId: agent.id, conversationId: `${tenant}/${ref.taskId}/1`, spec: validated.specRef! };
    await withInsertsRefused(conversationMessages, tenant, 'transcript refused', async () => {
      await assert.rejects(env.run(a.startConversation, start), /transcript refused/);
    });
    // What an older release left in that case: the row, and no messages.
    const { db } = testStack().database;
    await db
      .insert(conversations)
      .values({ ...ref, id: start.conversationId, runId: run.firstExecutionRunId, agentId: agent.id })
      .onConflictDoNothing();
    await env.run(a.startConversation, start);

    assert.deepEqual(
      (await transcript(ref)).map((m) => m.role),
      ['system', 'user'],
      'the retry wrote the opening messages',
    );
    await env.run(a.callModel, { ...ref, agentId: agent.id, conversationId: start.conversationId, turn: 1 });
    assert.ok(String(fake.requests[0].messages[1]?.content).includes(SPEC_MARKER), 'the model was given the task');
    await run.terminate('test over');
  });

  describe('limits', () => {
    const neverStops: FakeScript = (turn) => ({
      toolCalls: [{ name: 'list_files', arguments: {} }],
      usage: { prompt: 300, completion: 20 + turn },
    });

    it("fails the task as the agent's fault when the model never stops within maxTurns", async () => {
      fake = await startFakeOpenAI({ script: neverStops, apiKey });
      const tenant = uniqueId('tenant');
      const agent = await addOpenAIAgent(tenant, fake, { maxTurns: 2 });
      const input = await taskFor(tenant);
      await testStack().client.submit(input);
      const final = await testStack().client.watch(input, undefined, 200);

      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'AgentFailedError', JSON.stringify(final.error));
      assert.match(final.error?.message ?? '', /within 2 turns/);
      assert.deepEqual(
        fake.requests.map((r) => r.turn),
        [1, 2],
        'no third model call',
      );
      assert.deepEqual(countOps(await sandboxOps(input)), { list_files: 2 });
      const [outcome] = await testStack()
        .database.db.select()
        .from(agentOutcomes)
        .where(and(eq(agentOutcomes.tenantId, tenant), eq(agentOutcomes.taskId, input.taskId)));
      assert.equal(outcome?.agentId, agent.id);
      assert.equal(outcome?.outcome, 'FAIL', 'the turn limit counts against the agent');
      assert.equal(outcome?.tokens, 321 + 322);
    });

    it('fails the task naming tokens when the conversation uses more than maxTokens', async () => {
      fake = await startFakeOpenAI({ script: neverStops, apiKey });
      const tenant = uniqueId('tenant');
      await addOpenAIAgent(tenant, fake, { maxTokens: 500 });
      const input = await taskFor(tenant);
      await testStack().client.submit(input);
      const final = await testStack().client.watch(input, undefined, 200);

      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'AgentFailedError', JSON.stringify(final.error));
      assert.match(final.error?.message ?? '', /tokens/);
      assert.match(final.error?.message ?? '', /limit of 500/);
      assert.deepEqual(
        fake.requests.map((r) => r.turn),
        [1, 2],
        'stopped at the turn that went over (321 + 322 > 500)',
      );
      assert.deepEqual(
        countOps(await sandboxOps(input)),
        { list_files: 1 },
        "the over-limit turn's tool calls never ran",
      );
    });
  });

  describe('model endpoint errors', () => {
    it("a conversation that outgrew the model's context fails this run, not the agent's health", async () => {
      const script: FakeReply[] = [
        { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
        { content: 'done' },
      ];
      fake = await startFakeOpenAI({ script, apiKey });
      fake.failTurn(2, 400, 1, {
        message: "This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens.",
        type: 'invalid_request_error',
        code: 'context_length_exceeded',
      });
      const tenant = uniqueId('tenant');
      const agent = await addOpenAIAgent(tenant, fake);
      const ref = await taskFor(tenant);
      const { client, database } = testStack();
      await client.submit(ref);
      const final = await client.watch(ref, undefined, 200);
      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'AgentFailedError', JSON.stringify(final.error));
      assert.match(final.error?.message ?? '', /maximum context length/);
      assert.deepEqual(await circuitOf(tenant, agent.id), [0, null], 'health untouched');
      const stats = await database.db.select().from(agentStats).where(eq(agentStats.tenantId, tenant));
      assert.deepEqual(
        stats.map((s) => [s.tasks, s.failures]),
        [[1, 1]],
        "a FAIL in this tenant's statistics",
      );
    });

    it('a conversation cancelled by hand fails its task, which is not cancelled, and spares the agent', async () => {
      fake = await startFakeOpenAI({ script: [{ content: 'done' }], apiKey });
      fake.hold(1);
      const tenant = uniqueId('tenant');
      const agent = await addOpenAIAgent(tenant, fake);
      const ref = await taskFor(tenant);
      const { client } = testStack();
      await client.submit(ref);
      await fake.waitForRequest(1, 1, 60_000);
      const conversation = /^agent conversation (.+)$/.exec((await client.status(ref)).subState ?? '')?.[1];
      assert.ok(conversation, 'the conversation runs as a child workflow');
      await client.temporal.workflow.getHandle(conversation).cancel();
      const final = await client.watch(ref, undefined, 200);
      fake.release(1);
      assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
      assert.equal(final.error?.type, 'ChildRunCancelled');
      assert.match(final.error?.message ?? '', /was cancelled outside its task/);
      const handle = client.temporal.workflow.getHandle(taskWorkflowId(ref));
      await handle.result();
      const run = await handle.describe();
      assert.equal(run.status.name, 'COMPLETED', 'the run ends as its task did');
      assert.deepEqual(await circuitOf(tenant, agent.id), [0, null], 'health untouched');
    });

    it('retries a 5xx for the same turn and fails fast (AgentConfigError) when the key is refused', async () => {
      const script: FakeReply[] = [
        { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
        { content: 'done' },
      ];
      fake = await startFakeOpenAI({ script, apiKey });
      fake.failTurn(2, 503);
      const tenant = uniqueId('tenant');
      await addOpenAIAgent(tenant, fake);
      const flaky = await taskFor(tenant);

      const wrongKeyServer = await startFakeOpenAI({ script, apiKey: 'sk-the-right-one' });
      try {
        const otherTenant = uniqueId('tenant');
        await addOpenAIAgent(otherTenant, wrongKeyServer);
        const refused = await taskFor(otherTenant);
        const { client } = testStack();
        await Promise.all([client.submit(flaky), client.submit(refused)]);
        const [a, b] = await Promise.all([client.watch(flaky, undefined, 200), client.watch(refused, undefined, 200)]);

        assert.equal(a.state, 'COMPLETED', JSON.stringify(a.error));
        assert.deepEqual(
          fake.requestsFor(2).map((r) => r.outcome),
          ['error', 'completed'],
          'the 503 was retried with the same turn',
        );
        assert.equal(fake.completed(1), 1);
        assert.equal(fake.completed(2), 1);
        assertWellFormed(await transcript(flaky), 2);

        assert.equal(b.state, 'FAILED');
        assert.equal(b.error?.type, 'AgentConfigError', JSON.stringify(b.error));
        assert.match(b.error?.message ?? '', /401/);
        assert.deepEqual(
          wrongKeyServer.requests.map((r) => r.outcome),
          ['unauthorized'],
          'a refused key is not retried',
        );
        assert.ok(!(await historyJson(refused)).includes(apiKey), 'the key is not echoed into history by the failure');
      } finally {
        await wrongKeyServer.close();
      }
    });
  });
});

describe('openai agent: worker killed mid-conversation', function () {
  this.timeout(120_000);
  let fake: FakeOpenAI | undefined;
  const spawnWorker = workerProcessPerTest();

  afterEach(async () => {
    await fake?.close();
  });

  it('a replacement worker resumes at the last completed step: no model call or tool call made twice', async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    const script: FakeReply[] = [
      { toolCalls: [{ name: 'list_files', arguments: { path: 'src' } }] },
      { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
      {
        toolCalls: [
          { name: 'file_read', arguments: { path: 'src/feature.js' } },
          {
            name: 'run_command',
            arguments: { argv: ['node', '-e', "require('./src/feature.js')() === 42 || process.exit(4)"] },
          },
        ],
      },
      { content: 'Feature added and checked.' },
    ];
    fake = await startFakeOpenAI({ script, apiKey });
    fake.hold(3);
    const stack = testStack();
    const tenant = uniqueId('tenant');
    await addOpenAIAgent(tenant, fake);
    const input = await taskFor(tenant);
    const taskQueue = uniqueId('openai-crash-queue');
    const home = traversableTempDir('arbiter-openai-host-');

    const child = await spawnWorker(taskQueue, home, { [KEY_ENV]: apiKey, ARBITER_MODEL_KEYS: `${KEY_ENV}@127.0.0.1` });
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      const inFlight = await fake.waitForRequest(3, 1, 60_000);
      const before = await client.status(input);
      assert.equal(before.state, 'EXECUTING');
      assert.match(
        before.subState ?? '',
        /^agent conversation conversation\//,
        'the conversation runs as a child workflow',
      );
      await killHard(child);
      await waitFor("the killed worker's model request to drop", async () => inFlight.outcome === 'aborted', 10_000);

      const replacement = await stack.startWorker(taskQueue, home);
      try {
        fake.release(3);
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        assert.equal(
          final.workspace?.hostQueue,
          replacement.worker.hostQueue,
          'the same host: the workspace was reused',
        );
        assert.equal(final.workspace?.hostQueue, before.workspace?.hostQueue);

        // Every turn's response was delivered exactly once; only the interrupted turn was asked again.
        for (const turn of [1, 2, 3, 4])
          assert.equal(fake.completed(turn), 1, `turn ${turn} completed ${fake.completed(turn)} times`);
        assert.deepEqual(
          fake.requests.map((r) => [r.turn, r.outcome]),
          [
            [1, 'completed'],
            [2, 'completed'],
            [3, 'aborted'],
            [3, 'completed'],
            [4, 'completed'],
          ],
        );

        // Every tool call executed exactly once, before and after the crash.
        assert.deepEqual(countOps(await sandboxOps(input)), {
          list_files: 1,
          file_write: 1,
          file_read: 1,
          run_command: 1,
        });
        const messages = await transcript(input);
        assertWellFormed(messages, 4);
        const toolIds = messages.filter((m) => m.role === 'tool').map((m) => m.toolCallId);
        assert.deepEqual(toolIds, ['call_1_0', 'call_2_0', 'call_3_0', 'call_3_1']);
        assert.match(messages.find((m) => m.toolCallId === 'call_3_1')?.content ?? '', /^exit 0/);
        assert.match(messages.find((m) => m.toolCallId === 'call_3_0')?.content ?? '', /42/);
        assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`), FEATURE.trim());
        assert.ok(!(await historyJson(input)).includes(apiKey), 'the API key is not in workflow history');
      } finally {
        await stopWorker(replacement);
      }
    } finally {
      await client.close();
    }
  });
});
