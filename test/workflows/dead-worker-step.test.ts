/**
 * A step whose worker process was SIGKILLed is retried within the heartbeat timeout, not at its
 * start-to-close timeout: what bounds a task's stall after a worker dies (the chaos suite's figure).
 * The retried agent run keeps its wall-clock budget's start, and a watcher waits out the gap.
 */
import assert from 'node:assert/strict';
import { temporal } from '@temporalio/proto';
import type { TaskInput } from '../../domain/task';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { addCommandAgent, addScriptedAgent, GOOD_PLAN, taskInput, uniqueId } from '../helpers/fixtures';
import { traversableTempDir } from '../helpers/temp';
import { waitFor } from '../helpers/wait';
import { agentStep, clientOnQueue, killHard, workerProcessPerTest } from '../helpers/worker-process';

describe('a step on a worker that dies', function () {
  this.timeout(300_000);
  const spawnWorker = workerProcessPerTest();

  /**
   * Submits `input` to a worker of its own (ARBITER_HOME `home`) and SIGKILLs the worker 3 s into
   * the agent step, past its first beat, when a step beating at 80% of a long heartbeat timeout
   * goes quiet longest. The caller terminates the run and closes the client.
   */
  async function killedInAgentStep(taskQueue: string, home: string, input: TaskInput & TaskRef) {
    const child = await spawnWorker(taskQueue, home);
    const client = await clientOnQueue(taskQueue);
    const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
    try {
      await client.submit(input);
      await waitFor('the agent step to start', async () => (await agentStep(handle))?.lastHeartbeatTime, 60_000);
      await new Promise((r) => setTimeout(r, 3000));
      await killHard(child);
      return { client, handle };
    } catch (err) {
      await handle.terminate('test failed').catch(() => undefined);
      await client.close();
      throw err;
    }
  }

  it('is retried within the heartbeat timeout', async () => {
    const taskQueue = uniqueId('dead-step-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'run', argv: ['sleep', '120'], timeoutSeconds: 180 }]);
    const input = await taskInput(tenant);
    const { client, handle } = await killedInAgentStep(taskQueue, traversableTempDir('arbiter-dead-step-'), input);
    try {
      const retried = await waitFor(
        'the step to be retried',
        async () => {
          const step = await agentStep(handle);
          return (step?.attempt ?? 0) >= 2 && step;
        },
        60_000,
      );
      const timeout = retried.lastFailure?.timeoutFailureInfo?.timeoutType;
      assert.equal(
        timeout,
        temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_HEARTBEAT,
        JSON.stringify(retried.lastFailure),
      );
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.close();
    }
  });

  it("keeps a command agent's wall-clock budget running from its first attempt", async () => {
    const taskQueue = uniqueId('dead-agent-queue');
    const tenant = uniqueId('tenant');
    // 20 s of budget, 14 s of work: one attempt fits; the retry, some 13 s after the first began, may not start afresh.
    await addCommandAgent(tenant, 'sleep 14', {
      gateway: {
        upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: 'http://127.0.0.1:9/v1' }],
        budgets: { maxWallClockSeconds: 20 },
      },
    });
    const input = await taskInput(tenant);
    const home = traversableTempDir('arbiter-dead-agent-');
    const { client, handle } = await killedInAgentStep(taskQueue, home, input);
    try {
      // The same host (its home), so the step is retried where its workspace lives.
      await spawnWorker(taskQueue, home);
      const final = await client.watch(input);
      assert.equal(final.state, 'FAILED', JSON.stringify(final));
      assert.match(final.error?.message ?? '', /was stopped: wall-clock budget exceeded: 20 s/);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.close();
    }
  });

  it('is followed by a watcher that starts while no worker polls, once one does, and after all are gone', async () => {
    const taskQueue = uniqueId('dead-watch-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'run', argv: ['sleep', '5'], timeoutSeconds: 60 }, ...GOOD_PLAN]);
    const input = await taskInput(tenant);
    const home = traversableTempDir('arbiter-dead-watch-');
    const { client, handle } = await killedInAgentStep(taskQueue, home, input);
    try {
      // Past the server's 20 s window, a query no worker takes is refused once its deadline nears.
      await new Promise((r) => setTimeout(r, 21_000));
      let toldNoWorker = 0;
      const watching = client
        .watch(input, undefined, undefined, () => toldNoWorker++)
        .then(
          (s) => ({ s }),
          (err: unknown) => ({ err }),
        );
      // The first read is refused some 29 s on, later on a loaded host; a worker started before then
      // would answer it, and the wait this test is about would not happen.
      const told = await Promise.race([
        watching.then(() => 'settled'),
        waitFor('the no-worker notice', async () => toldNoWorker >= 1, 120_000).then(
          () => 'told',
          (err: unknown) => String(err),
        ),
      ]);
      assert.equal(told, 'told', 'the watcher says it is waiting for a worker, and keeps waiting');
      const early = await Promise.race([watching, new Promise((r) => setTimeout(() => r('waiting'), 5_000))]);
      assert.equal(early, 'waiting', 'the watcher waits for a worker');
      const worker = await spawnWorker(taskQueue, home);
      const final = await watching;
      assert.ok('s' in final, String((final as { err: unknown }).err));
      assert.equal(final.s.state, 'COMPLETED', JSON.stringify(final.s.error));
      // A closed run needs no worker: with none left, a watcher gets its result from history.
      await handle.result();
      await killHard(worker);
      await new Promise((r) => setTimeout(r, 21_000));
      const ended = await client.watch(input);
      assert.deepEqual(ended, final.s);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.close();
    }
  });
});
