/**
 * More tasks than sandbox uids: the task that finds every uid leased waits on a workflow timer
 * (holding no worker slot) and runs once one is released, instead of retrying `prepareWorkspace`
 * until its attempts run out and failing only because the host was busy. A uid that never frees
 * up ends the wait after six hours (on the time-skipping server, in seconds).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { SandboxConfig } from '../../host/sandbox/config';
import { leaseSandboxUser } from '../../host/sandbox/uid-leases';
import { workspaceDirs } from '../../host/git';
import type { TaskSnapshot } from '../../domain/task';
import { TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { goodTaskInput, uniqueId } from '../helpers/fixtures';
import { testSandboxConfig, testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { startTimeSkipping } from '../helpers/time-skipping';
import { clientOnQueue } from '../helpers/worker-process';
import { waitForState } from '../helpers/wait';

/** This process's sandbox settings with one uid, the last of its range. */
function oneUidConfig(): SandboxConfig {
  const sandbox = testSandboxConfig();
  return { ...sandbox, uids: { first: sandbox.uids.last, last: sandbox.uids.last } };
}

describe('every sandbox uid leased', function () {
  this.timeout(180_000);

  it('makes the next task wait for a uid on a timer, and both tasks complete', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('one-uid-queue');
    const oneUid = oneUidConfig();
    const host = await stack.startWorker(taskQueue, traversableTempDir('arbiter-one-uid-'), { sandbox: oneUid });
    const client = await clientOnQueue(taskQueue);
    try {
      const holder = { ...(await goodTaskInput()), gates: [{ name: 'slow', argv: ['sh', '-c', 'sleep 12'] }] };
      await client.submit(holder);
      await waitForState(holder, (s) => s.subState === 'gate:slow', 60_000);
      const waiter = await goodTaskInput();
      await client.submit(waiter);

      const handle = (input: { tenantId: string; taskId: string }) =>
        client.temporal.workflow.getHandle(taskWorkflowId(input));
      for (const input of [holder, waiter]) {
        const final = (await handle(input).result()) as TaskSnapshot;
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      }
      const events = (await handle(waiter).fetchHistory()).events ?? [];
      const failed = events.filter((e) => e.activityTaskFailedEventAttributes);
      assert.ok(failed.length >= 1, 'the waiter found every uid leased at least once');
      assert.ok(
        failed.every((e) => /SandboxUidsExhaustedError/.test(JSON.stringify(e.activityTaskFailedEventAttributes))),
      );
      assert.ok(
        events.some((e) => e.timerStartedEventAttributes),
        'it waited on a workflow timer, not in activity retries',
      );
      const attempts = events.flatMap((e) => e.activityTaskStartedEventAttributes?.attempt ?? []);
      assert.ok(
        attempts.every((a) => a === 1),
        `no activity was retried by the server: ${attempts}`,
      );
    } finally {
      host.worker.shutdown();
      await host.running;
      await client.close();
    }
  });
});

describe('a workspace kept for inspection', function () {
  this.timeout(180_000);

  it("gives its uid back: a cancelled task's kept workspace does not hold the next task waiting", async () => {
    const stack = testStack();
    const taskQueue = uniqueId('kept-uid-queue');
    const oneUid = oneUidConfig();
    const home = traversableTempDir('arbiter-kept-uid-');
    const host = await stack.startWorker(taskQueue, home, { sandbox: oneUid });
    const client = await clientOnQueue(taskQueue);
    try {
      const cancelled = { ...(await goodTaskInput()), gates: [{ name: 'slow', argv: ['sleep', '60'] }] };
      await client.submit(cancelled);
      await waitForState(cancelled, (s) => s.subState === 'gate:slow', 60_000);
      await client.cancel(cancelled);
      assert.equal((await client.watch(cancelled)).state, 'CANCELLED');
      // The run ends after the task does, once it has released (here: kept) the workspace.
      await client.temporal.workflow
        .getHandle(taskWorkflowId(cancelled))
        .result()
        .catch(() => undefined);
      const kept = workspaceDirs(home, cancelled.tenantId, cancelled.taskId).tree;
      assert.ok(existsSync(path.join(kept, 'src')), 'the workspace is kept for inspection');

      const next = await goodTaskInput();
      await client.submit(next);
      // Held by the kept workspace, the one uid would free up only at the retention sweep, a day later.
      await waitForState(next, (s) => s.state === 'COMPLETED', 60_000);
      assert.ok(existsSync(path.join(kept, 'src')), 'still kept');
    } finally {
      host.worker.shutdown();
      await host.running;
      await client.close();
    }
  });
});

describe('a sandbox uid that never frees up (time-skipping server)', function () {
  this.timeout(180_000);

  it('ends the wait after six hours of workflow time: the task FAILS naming the exhausted range', async () => {
    const oneUid = oneUidConfig();
    const home = traversableTempDir('arbiter-uid-bound-');
    const squatter = path.join(home, 'squatter');
    mkdirSync(squatter);
    await leaseSandboxUser(home, squatter, oneUid.uids);
    const skipping = await startTimeSkipping({ home, sandbox: oneUid });
    try {
      const input = await goodTaskInput();
      const started = Date.now();
      const handle = await skipping.env.client.workflow.start(TASK_WORKFLOW_TYPE, {
        taskQueue: skipping.taskQueue,
        workflowId: taskWorkflowId(input),
        args: [input],
      });
      const final = (await handle.result()) as TaskSnapshot;
      assert.equal(final.state, 'FAILED', JSON.stringify(final));
      assert.match(final.error?.message ?? '', new RegExp(`${oneUid.uids.last}`), JSON.stringify(final.error));
      const events = (await handle.fetchHistory()).events ?? [];
      const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000;
      const waited = at(events[events.length - 1]) - at(events[0]);
      assert.ok(waited >= 6 * 3_600_000, `gave up after ${waited / 3_600_000} hours`);
      assert.ok(waited < 6 * 3_600_000 + 5 * 60_000, `gave up soon after six hours, not ${waited / 3_600_000}`);
      const timers = events.filter((e) => e.timerStartedEventAttributes).length;
      assert.ok(timers > 300 && timers < 400, `${timers} waits, most of a minute each`);
      assert.ok(Date.now() - started < 150_000, 'six hours of workflow time pass in minutes');
    } finally {
      await skipping.stop();
    }
  });
});
