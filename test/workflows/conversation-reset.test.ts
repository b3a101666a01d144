/**
 * `temporal workflow reset` of a task whose `openai` conversation child is running, to a point
 * after the child started: the new run replays the child's start as the replaced run recorded it
 * (its id names the run that started it), the server reconnects the running child, and the task
 * completes. Before, the replay named the conversation after the new run, every workflow task
 * failed as nondeterministic, and the run hung until terminated.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { taskWorkflowId } from '../../temporal-config';
import type { taskLifecycle } from '../../workflows';
import { startFakeOpenAI } from '../helpers/fake-openai';
import { addOpenAIAgent, taskInput } from '../helpers/fixtures';
import { temporalWorkflow } from '../helpers/cli';
import type { HistoryEvent } from '../helpers/history';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

const KEY_ENV = 'FAKE_OPENAI_KEY';
const FEATURE = 'module.exports = () => 42;\n';

/** The first workflow task the run completed after its conversation child had started. */
function completedAfterChildStarted(events: HistoryEvent[]): number | undefined {
  const started = events.find((e) => e.childWorkflowExecutionStartedEventAttributes);
  if (!started) return undefined;
  const after = events.find(
    (e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) > Number(started.eventId),
  );
  return after ? Number(after.eventId) : undefined;
}

describe('reset of a task while its conversation child runs', function () {
  this.timeout(120_000);

  it('replays the child as started, reconnects it, and completes', async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    const fake = await startFakeOpenAI({
      apiKey,
      script: [
        { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: FEATURE } }] },
        { content: 'Done.' },
      ],
    });
    try {
      fake.hold(1);
      const input = await taskInput(`reset-${randomBytes(4).toString('hex')}`);
      await addOpenAIAgent(input.tenantId, fake.baseUrl, KEY_ENV);
      const { client } = testStack();
      const { runId } = await client.submit(input);
      const workflowId = taskWorkflowId(input);
      const first = client.temporal.workflow.getHandle(workflowId, runId);
      await fake.waitForRequest(1, 1, 60_000);
      const resetPoint = await waitFor('a workflow task after the child started', async () =>
        completedAfterChildStarted((await first.fetchHistory()).events ?? []),
      );
      await temporalWorkflow([
        'reset',
        '--workflow-id',
        workflowId,
        '--run-id',
        runId,
        '--event-id',
        String(resetPoint),
        '--reason',
        'conversation-reset test',
      ]);
      const { runId: newRunId } = await client.temporal.workflow.getHandle(workflowId).describe();
      assert.notEqual(newRunId, runId, 'the reset started a new run');
      fake.release(1);

      const reset = client.temporal.workflow.getHandle<typeof taskLifecycle>(workflowId, newRunId);
      // A run that cannot replay fails workflow task after workflow task and never ends.
      const events = await waitFor(
        'the reset run to end, or to fail a workflow task of its own',
        async () => {
          const history = (await reset.fetchHistory()).events ?? [];
          const failed = history.filter((e) => e.workflowTaskFailedEventAttributes).length;
          return (failed > 1 || (await reset.describe()).status.name !== 'RUNNING') && history;
        },
        90_000,
      );
      const failures = events.flatMap((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? []);
      assert.equal(failures.length, 1, `only the reset itself failed a workflow task: ${failures.join(' | ')}`);
      const final = await reset.result();
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      assert.equal(fake.requestsFor(1).length, 1, 'the model was asked turn 1 once: the child was not run again');
    } finally {
      await fake.close();
    }
  });
});
