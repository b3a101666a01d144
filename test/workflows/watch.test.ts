/**
 * `ArbiterClient.watch` follows tasks through the `awaitTransition` update instead of polling
 * `getState`, and an insider flooding that update cannot grow a task's history without bound.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TooManyWatchersError, WatchBehindError } from '../../domain/errors';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { MAX_WATCHERS } from '../../domain/watch';
import { HAPPY_PATH } from '../../domain/lifecycle';
import { taskWorkflowId } from '../../temporal-config';
import { awaitTransitionUpdate } from '../../workflows/definitions';
import type { taskLifecycle } from '../../workflows';
import { addScriptedAgent, GOOD_PLAN, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitForState } from '../helpers/wait';

async function tenantWithAgent(): Promise<{ tenantId: string; repo: string }> {
  const tenantId = uniqueId('watch');
  await addScriptedAgent(tenantId, GOOD_PLAN, { maxConcurrency: 100 });
  return { tenantId, repo: await registerRepo(tenantId) };
}

function handleOf(input: TaskInput) {
  return testStack().client.temporal.workflow.getHandle<typeof taskLifecycle>(taskWorkflowId(input));
}

/** The refusal's error type, or the error itself when it was not a refusal by the workflow. */
function refusal(result: PromiseSettledResult<unknown>): string | undefined {
  if (result.status === 'fulfilled') return undefined;
  const err: unknown = result.reason;
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) return err.cause.type ?? '';
  throw err;
}

async function updateEventCounts(input: TaskInput): Promise<{ accepted: number; completed: number }> {
  const { events } = await handleOf(input).fetchHistory();
  return {
    accepted: events?.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length ?? 0,
    completed: events?.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length ?? 0,
  };
}

describe('watching tasks without polling (awaitTransition)', function () {
  this.timeout(240_000);

  it('follows 20 tasks at once to COMPLETED, each watcher seeing every state in order', async () => {
    const { tenantId, repo } = await tenantWithAgent();
    const inputs: TaskInput[] = Array.from({ length: 20 }, () => ({
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo,
    }));
    await Promise.all(inputs.map((i) => testStack().client.submit(i)));
    const seen = await Promise.all(
      inputs.map(async (input) => {
        const snapshots: TaskSnapshot[] = [];
        const final = await testStack().client.watch(input, (s) => snapshots.push(s));
        return { final, snapshots };
      }),
    );
    for (const { final, snapshots } of seen) {
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      assert.deepEqual(
        final.history.map((h) => h.state),
        HAPPY_PATH,
      );
      for (let i = 1; i < snapshots.length; i++) {
        const [before, after] = [snapshots[i - 1].history, snapshots[i].history];
        assert.ok(after.length > before.length, 'every change the watcher is told of is a new transition');
        assert.deepEqual(after.slice(0, before.length), before, 'each snapshot extends the one before it');
      }
    }
    const counts = await updateEventCounts(inputs[0]);
    assert.ok(counts.accepted > 0, 'the watcher waited through the update, not by polling');
  });

  it('refuses, unrecorded, a flood of awaitTransition: stale, malformed and beyond the watcher slots', async () => {
    const { tenantId, repo } = await tenantWithAgent();
    const input: TaskInput = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo,
      gates: [{ name: 'slow', argv: ['sleep', '60'] }],
    };
    await testStack().client.submit(input);
    const verifying = await waitForState(input, (s) => s.subState === 'gate:slow', 90_000);
    const handle = handleOf(input);
    const seq = verifying.history.length;
    const send = (afterSeq: unknown) =>
      handle.executeUpdate(awaitTransitionUpdate, { args: [{ afterSeq } as { afterSeq: number }] });

    const stale = await Promise.allSettled(Array.from({ length: 30 }, () => send(seq - 1)));
    assert.deepEqual([...new Set(stale.map(refusal))], [WatchBehindError.type]);
    // Ahead of the task, so only the input's schema can refuse them (an accepted one would wait for a transition).
    const malformed = await Promise.allSettled([send('x'), send(seq + 0.5), send(100_001)]);
    assert.deepEqual(malformed.map(refusal), ['Error', 'Error', 'Error'], 'each refused by the schema, not as stale');
    // A valid first argument with a 1 MB second: each accepted one stored it in history and held it in memory.
    const padded = await Promise.allSettled(
      Array.from({ length: 3 }, () =>
        handle.executeUpdate(awaitTransitionUpdate, {
          args: [{ afterSeq: seq }, 'x'.repeat(1_000_000)] as unknown as [{ afterSeq: number }],
        }),
      ),
    );
    assert.deepEqual([...new Set(padded.map(refusal))], ['UpdateArgumentsError']);

    // startUpdate returns once each update is accepted or refused; a refused one's result is
    // already known (it rejects at once), an accepted watcher's waits for the next transition.
    const handles = await Promise.all(
      Array.from({ length: 30 }, () =>
        handle.startUpdate(awaitTransitionUpdate, { args: [{ afterSeq: seq }], waitForStage: 'ACCEPTED' }),
      ),
    );
    const results = handles.map((h) => h.result());
    const settledSoon = await Promise.all(
      results.map((p) =>
        Promise.race([
          p.then(
            (value): PromiseSettledResult<TaskSnapshot> => ({ status: 'fulfilled', value }),
            (reason: unknown): PromiseSettledResult<TaskSnapshot> => ({ status: 'rejected', reason }),
          ),
          new Promise<'waiting'>((r) => setTimeout(() => r('waiting'), 2_000)),
        ]),
      ),
    );
    const waiting = results.filter((_, i) => settledSoon[i] === 'waiting');
    const refused = settledSoon.filter((r): r is PromiseSettledResult<TaskSnapshot> => r !== 'waiting');
    assert.equal(waiting.length, MAX_WATCHERS);
    assert.deepEqual([...new Set(refused.map(refusal))], [TooManyWatchersError.type]);
    assert.deepEqual(await updateEventCounts(input), { accepted: MAX_WATCHERS, completed: 0 });

    // Ending the task answers every waiting watcher, so a run that awaits its handlers ends.
    await testStack().client.cancel(input, 'watch flood test');
    for (const snapshot of await Promise.all(waiting)) assert.equal(snapshot.state, 'CANCELLED');
    await assert.rejects(handle.result(), WorkflowFailedError, 'the run of a cancelled task ends Canceled');
    assert.deepEqual(await updateEventCounts(input), { accepted: MAX_WATCHERS, completed: MAX_WATCHERS });
    const after = await Promise.allSettled([send(seq + 1)]);
    assert.equal(after[0].status, 'rejected', 'a closed task takes no watcher');
  });

  it('a watcher of an ended task gets its final snapshot at once', async () => {
    const { tenantId, repo } = await tenantWithAgent();
    const input: TaskInput = { tenantId, taskId: uniqueId('task'), specYaml: specYaml(), repo };
    await testStack().client.submit(input);
    const first = await testStack().client.watch(input);
    const again = await testStack().client.watch(input);
    assert.equal(again.state, 'COMPLETED');
    assert.deepEqual(again.history, first.history);
  });
});
