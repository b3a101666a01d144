/**
 * A host too busy to take a task's agent step within the task's `hostLossTimeoutSeconds` counts as
 * lost: the workspace is rebuilt, and when no host takes it the task fails. The agent never ran,
 * so the failure is not charged to it: a submitter setting the timeout to one second on a busy
 * host would otherwise open the circuit of an agent every tenant shares. A host that died under
 * the agent's run still charges it: an agent that brings its host down must not go uncounted.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { removeRepo } from '../../db/repos';
import { agentHealthReports } from '../../db/schema';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { addScriptedAgent, circuitOf, GOOD_PLAN, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { waitFor, waitForState } from '../helpers/wait';
import { agentStep, clientOnQueue, killHard, stopWorker, workerProcessPerTest } from '../helpers/worker-process';

/** The health reports the task's runs made for its agent. */
function healthReports(ref: TaskRef) {
  return testStack()
    .database.db.select({ ok: agentHealthReports.ok })
    .from(agentHealthReports)
    .where(and(eq(agentHealthReports.tenantId, ref.tenantId), eq(agentHealthReports.taskId, ref.taskId)));
}

describe('a host lost around the agent step', function () {
  this.timeout(120_000);
  const spawnWorker = workerProcessPerTest();

  it('too busy to take it: the task fails in EXECUTING without charging the agent a failure', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('busy-host-queue');
    const started = await stack.startWorker(taskQueue, traversableTempDir('arbiter-busy-host-'), {
      hostConcurrency: 1,
    });
    const client = await clientOnQueue(taskQueue);
    const busyTenant = uniqueId('tenant');
    await addScriptedAgent(busyTenant, GOOD_PLAN);
    const busy = await taskInput(busyTenant, undefined, {
      gates: [{ name: 'slow', argv: ['sleep', '100'], timeoutSeconds: 110 }],
    });
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const input = await taskInput(tenant, undefined, { hostLossTimeoutSeconds: 1 });
    try {
      await client.submit(busy);
      await waitForState(busy, (s) => s.subState === 'gate:slow', 60_000);
      await client.submit(input);
      const final = await client.watch(input, undefined, 250);
      assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
      assert.equal(final.history.at(-2)?.state, 'EXECUTING', JSON.stringify(final.history));
      assert.match(final.error?.message ?? '', /schedule.?to.?start/i);
      assert.deepEqual(await healthReports(input), [], 'no health report charges the agent');
      assert.deepEqual(await circuitOf(tenant, agent.id), [0, null]);
    } finally {
      await client.cancel(busy).catch(() => undefined);
      await client.close();
      await stopWorker(started);
    }
  });

  it('dead under its run: the agent is charged when the task then fails', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('dying-host-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'run', argv: ['sleep', '120'], timeoutSeconds: 180 }]);
    const input = await taskInput(tenant, undefined, { hostLossTimeoutSeconds: 2 });
    const child = await spawnWorker(taskQueue, traversableTempDir('arbiter-dying-host-'));
    const client = await clientOnQueue(taskQueue);
    const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
    try {
      await client.submit(input);
      await waitFor('the agent step to beat', async () => (await agentStep(handle))?.lastHeartbeatTime, 60_000);
      await killHard(child);
      // The rebuild after the host is lost finds the registration gone: the task fails in EXECUTING.
      await removeRepo(stack.database.db, tenant, input.repo);
      const other = await stack.startWorker(taskQueue, traversableTempDir('arbiter-other-host-'));
      try {
        const final = await client.watch(input, undefined, 250);
        assert.notEqual(final.state, 'COMPLETED', JSON.stringify(final));
        assert.equal(final.history.at(-2)?.state, 'EXECUTING', JSON.stringify(final.history));
        assert.deepEqual(await healthReports(input), [{ ok: false }], 'the lost run is charged to the agent');
      } finally {
        await stopWorker(other);
      }
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.close();
    }
  });
});
