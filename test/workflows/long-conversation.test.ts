/**
 * History stays small however long an `openai` conversation runs: 500 turns, each a tool call,
 * against a fake chat-completions server. The conversation runs as a child workflow that
 * continues as new past its history budget, tool arguments and results stay in PostgreSQL
 * (history holds ids, summaries and digests), and the spec travels by reference: every run's
 * history, the task's own included, stays under a bound in events and bytes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { upsertAgent } from '../../db/agents';
import { conversationWorkflowId, taskWorkflowId } from '../../temporal-config';
import { startFakeOpenAI, type FakeOpenAI, type FakeScript } from '../helpers/fake-openai';
import { makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

const KEY_ENV = 'FAKE_OPENAI_KEY';
const TURNS = 500;
/** The child's default budget (2,000 events, 2 MiB) plus one turn's events and bytes of slack. */
const MAX_RUN_EVENTS = 2_000 + 40;
const MAX_RUN_BYTES = 2 * 1024 * 1024 + 64 * 1024;
/** The task's own history: its lifecycle, with the conversation as one child. */
const MAX_TASK_EVENTS = 400;
const MAX_TASK_BYTES = 512 * 1024;

/** Turn 1 writes the feature; every later turn but the last reads a file; the last answers. */
const script: FakeScript = (turn) => {
  if (turn === TURNS) return { content: 'done', usage: { prompt: 1, completion: 1 } };
  if (turn === 1)
    return {
      toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: 'module.exports = 42;\n' } }],
    };
  return { toolCalls: [{ name: 'file_read', arguments: { path: 'README.md' } }], usage: { prompt: 1, completion: 1 } };
};

describe('a 500-turn openai conversation keeps every history bounded', function () {
  this.timeout(1_800_000);
  let fake: FakeOpenAI | undefined;

  after(async () => {
    await fake?.close();
  });

  it('completes, continuing as new, with every run under the event and byte bounds', async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    fake = await startFakeOpenAI({ script, apiKey });
    const { client, database } = testStack();
    const tenantId = uniqueId('tenant');
    await upsertAgent(database.db, {
      id: uniqueId('gpt'),
      tenantId,
      kind: 'openai',
      config: {
        baseUrl: fake.baseUrl,
        model: 'fake-gpt',
        apiKeyEnv: KEY_ENV,
        maxTurns: TURNS,
        maxTokens: 1_000_000,
        maxWallClockSeconds: 3_600,
      },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 1,
    });
    const input = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenantId, makeRepo({ 'src/app.js': 'x\n', 'README.md': '# target\n' })),
    };
    await client.submit(input);
    const final = await client.watch(input, undefined, 2_000);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(fake.requests.length, TURNS, 'one model call per turn');

    const task = await client.temporal.workflow.getHandle(taskWorkflowId(input)).describe();
    assert.ok(task.historyLength <= MAX_TASK_EVENTS, `task history has ${task.historyLength} events`);
    assert.ok((task.historySize ?? 0) <= MAX_TASK_BYTES, `task history has ${task.historySize} bytes`);

    const conversationId = `${tenantId}/${input.taskId}/${task.runId}/1`;
    const runs = [];
    for await (const run of client.temporal.workflow.list({
      query: `WorkflowId = "${conversationWorkflowId(conversationId)}"`,
    }))
      runs.push(await client.temporal.workflow.getHandle(run.workflowId, run.runId).describe());
    const continued = runs.filter((r) => r.status.name === 'CONTINUED_AS_NEW').length;
    const sizes = runs.map((r) => `${r.historyLength} events/${r.historySize} bytes`);
    process.stdout.write(`      task: ${task.historyLength} events/${task.historySize} bytes\n`);
    process.stdout.write(`      conversation runs: ${runs.length}: ${sizes.join(', ')}\n`);
    assert.ok(continued > 0, 'the conversation continued as new');
    assert.equal(runs.filter((r) => r.status.name === 'COMPLETED').length, 1);
    for (const r of [task, ...runs]) assert.equal(typeof r.historySize, 'number', 'the server reports history sizes');
    for (const r of runs) {
      assert.ok(r.historyLength <= MAX_RUN_EVENTS, `a run has ${r.historyLength} events`);
      assert.ok((r.historySize ?? 0) <= MAX_RUN_BYTES, `a run has ${r.historySize} bytes`);
    }
  });
});
