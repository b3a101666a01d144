/**
 * Safe deploys: a worker stopped with SIGTERM stops polling and lets the gate it is running
 * finish within its grace (ARBITER_SHUTDOWN_GRACE_SECONDS), then exits; the next worker carries
 * the task on without running that gate again. With a grace shorter than the gate, the gate is
 * cut short and runs again elsewhere: the grace is what decides.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { addScriptedAgent, GOOD_PLAN, taskInput, uniqueId } from '../helpers/fixtures';
import { activitiesRun, attemptsOf } from '../helpers/history';
import { testStack } from '../helpers/stack';
import { waitForState } from '../helpers/wait';
import { clientOnQueue, stopWorker, workerProcessPerTest } from '../helpers/worker-process';

function exited(child: ChildProcess): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => child.once('exit', () => resolve(Date.now() - started)));
}

async function stopDuringGate(grace: number, gateSeconds: number) {
  const stack = testStack();
  const taskQueue = uniqueId('drain-queue');
  const tenant = uniqueId('tenant');
  await addScriptedAgent(tenant, GOOD_PLAN);
  const input = await taskInput(tenant, undefined, {
    gates: [{ name: 'slow', argv: ['sh', '-c', `sleep ${gateSeconds}`] }],
  });
  const child = await spawnWorker(taskQueue, stack.home, { ARBITER_SHUTDOWN_GRACE_SECONDS: String(grace) });
  const client = await clientOnQueue(taskQueue);
  try {
    await client.submit(input);
    await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
    const gone = exited(child);
    child.kill('SIGTERM');
    const stoppedAfterMs = await gone;
    const replacement = await stack.startWorker(taskQueue);
    try {
      const final = await client.watch(input, undefined, 250);
      const history = await client.temporal.workflow.getHandle(final.workflowId).fetchHistory();
      return {
        final,
        stoppedAfterMs,
        attempts: attemptsOf(history.events ?? [], 'runGate'),
        ran: activitiesRun(history.events ?? []),
      };
    } finally {
      await stopWorker(replacement);
    }
  } finally {
    await client.close();
  }
}

let spawnWorker: ReturnType<typeof workerProcessPerTest>;

describe('a worker stopped for a deploy drains', function () {
  this.timeout(180_000);
  spawnWorker = workerProcessPerTest();

  it('lets a running gate finish within its grace, exits, and the next worker goes on without running it again', async () => {
    const { final, stoppedAfterMs, attempts } = await stopDuringGate(60, 8);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.deepEqual(attempts, [1], 'the gate ran once, to its end, on the stopping worker');
    assert.ok(
      stoppedAfterMs < 55_000,
      `the worker exited once the gate was done (${stoppedAfterMs} ms), not at the grace`,
    );
  });

  it('cuts a gate longer than its grace short: it runs again on the next worker', async () => {
    const { final, attempts } = await stopDuringGate(1, 8);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.deepEqual(attempts, [2], 'cut short at the grace, run again');
  });
});
