/**
 * Records the history of one real run of every lifecycle path on the real stack, as replay
 * fixtures (test/replay checks they still replay), with every run of the child workflows each
 * started (recording.ts). Skipped unless asked for:
 *
 *   ARBITER_RECORD_HISTORIES=1 [ARBITER_HISTORIES_DIR=test/fixtures/histories/<set>] \
 *     node scripts/run-tests.js test/recorder
 *
 * Each path is driven the way its own suite drives it, with scripted agents and tiny repositories
 * so the fixtures stay small.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { upsertAgent } from '../../db/agents';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate } from '../../workflows/definitions';
import { signedApproval, taskAwaitingWaiver } from '../helpers/approvers';
import { startFakeOpenAI } from '../helpers/fake-openai';
import { addScriptedAgent, goodTaskInput, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { clientOnQueue } from '../helpers/worker-process';
import { waitForState } from '../helpers/wait';
import { onSmallBudgetWorker, record, submitAndRecord } from './recording';

const recording = process.env.ARBITER_RECORD_HISTORIES === '1';

/** A gate slow enough (10 s) to act on while the task is in VERIFYING. */
const SLOW_GATE = { name: 'slow', argv: ['sh', '-c', 'sleep 10'] };

(recording ? describe : describe.skip)('record replay fixtures (ARBITER_RECORD_HISTORIES=1)', function () {
  this.timeout(120_000);

  it('completed', async () => {
    const final = await submitAndRecord('completed', await goodTaskInput());
    assert.equal(final.state, 'COMPLETED');
  });

  it('rejected (invalid spec)', async () => {
    const input = { ...(await goodTaskInput()), specYaml: specYaml({ risk_tier: 7, title: undefined }) };
    const final = await submitAndRecord('rejected', input);
    assert.equal(final.state, 'REJECTED');
  });

  it('failed (a gate fails)', async () => {
    const input = { ...(await goodTaskInput()), gates: [{ name: 'check', argv: ['sh', '-c', 'exit 3'] }] };
    const final = await submitAndRecord('failed', input);
    assert.equal(final.state, 'FAILED');
  });

  it('waived (budget over, a signed approval)', async () => {
    const { stack, input, waiting, keys } = await taskAwaitingWaiver();
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    await handle.executeUpdate(approveWaiverUpdate, {
      args: [await signedApproval(input, waiting.pendingWaiver!, keys.alice)],
    });
    const final = await record('waived', input);
    assert.equal(final.verdict?.outcome, 'WAIVED');
  });

  it('waiver expired (nobody decides within the window)', async () => {
    const { input } = await taskAwaitingWaiver({ windowHours: 0.001 });
    const final = await record('waiver-expired', input);
    assert.equal(final.error?.type, 'WaiverExpired');
  });

  it('cancelled (while a gate runs)', async () => {
    const input = { ...(await goodTaskInput()), gates: [SLOW_GATE] };
    await testStack().client.submit(input);
    await waitForState(input, (s) => s.subState === 'gate:slow');
    await testStack().client.cancel(input, 'recording the cancelled path');
    const final = await record('cancelled', input);
    assert.equal(final.state, 'CANCELLED');
  });

  it('host lost (the workspace host stops, another rebuilds it)', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('record-lost-host');
    const homes = ['arbiter-host-a-', 'arbiter-host-b-'].map(traversableTempDir);
    const client = await clientOnQueue(taskQueue);
    const first = await stack.startWorker(taskQueue, homes[0]);
    const input = { ...(await goodTaskInput()), hostLossTimeoutSeconds: 3, gates: [SLOW_GATE] };
    try {
      await client.submit(input);
      const running = await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
      first.worker.shutdown();
      await first.running;
      const other = await stack.startWorker(taskQueue, homes[1]);
      try {
        const final = await record('host-lost', input, client);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        assert.notEqual(final.workspace?.hostQueue, running.workspace?.hostQueue);
      } finally {
        other.worker.shutdown();
        await other.running;
      }
    } finally {
      await client.close();
    }
  });

  it('retried (a gate fails; the agent, told why, fixes it)', async () => {
    const tenant = uniqueId('tenant');
    await upsertAgent(testStack().database.db, {
      id: uniqueId('agent'),
      tenantId: tenant,
      kind: 'scripted',
      config: {
        steps: [{ op: 'write', path: 'src/feature.js', content: 'module.exports = 41;\n' }],
        retrySteps: [{ op: 'write', path: 'src/feature.js', content: 'module.exports = 42;\n' }],
      },
      capabilities: { taskTypes: ['feature'] },
    });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenant),
      gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js") === 42 || process.exit(3)'] }],
    };
    const final = await submitAndRecord('retried', input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts.length, 1);
  });

  it('best of N (two candidates; the one that passes is delivered)', async () => {
    const tenant = uniqueId('tenant');
    for (const content of ['module.exports = 42;\n', 'module.exports = 41;\n'])
      await addScriptedAgent(tenant, [{ op: 'write', path: 'src/feature.js', content }]);
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenant),
      gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js") === 42 || process.exit(3)'] }],
      candidates: 2,
    };
    const final = await submitAndRecord('best-of-n', input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.candidates.length, 2);
  });

  it('openai conversation (fake server, tool calls; continued as new between turns)', async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env.FAKE_OPENAI_KEY = apiKey;
    const fake = await startFakeOpenAI({
      apiKey,
      script: [
        { toolCalls: [{ name: 'list_files', arguments: {} }] },
        {
          toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: 'module.exports = 42;\n' } }],
        },
        { content: 'Done.' },
      ],
    });
    try {
      const tenant = uniqueId('tenant');
      await upsertAgent(testStack().database.db, {
        id: uniqueId('gpt'),
        tenantId: tenant,
        kind: 'openai',
        config: { baseUrl: fake.baseUrl, model: 'fake-gpt', apiKeyEnv: 'FAKE_OPENAI_KEY' },
        capabilities: { taskTypes: ['feature'] },
        maxConcurrency: 10,
      });
      const input = {
        tenantId: tenant,
        taskId: uniqueId('task'),
        specYaml: specYaml(),
        repo: await registerRepo(tenant),
      };
      const final = await onSmallBudgetWorker((client) => submitAndRecord('openai-conversation', input, client));
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    } finally {
      await fake.close();
    }
  });
});
