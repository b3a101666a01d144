/**
 * A host too busy to take a task's agent step within the task's `hostLossTimeoutSeconds` counts as
 * lost: the workspace is rebuilt, and when no host takes it the task fails. The agent never ran,
 * so the failure is not charged to it: a submitter setting the timeout to one second on a busy
 * host would otherwise open the circuit of an agent every tenant shares.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { agentHealthReports, agents } from '../../db/schema';
import { addScriptedAgent, GOOD_PLAN, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { waitForState } from '../helpers/wait';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';

describe('a host too busy to take the agent step', function () {
  this.timeout(120_000);

  it('fails the task in EXECUTING without charging the agent a failure', async () => {
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
      const { db } = stack.database;
      const reports = await db
        .select()
        .from(agentHealthReports)
        .where(and(eq(agentHealthReports.tenantId, tenant), eq(agentHealthReports.taskId, input.taskId)));
      assert.deepEqual(reports, [], 'no health report charges the agent');
      const [row] = await db.select().from(agents).where(eq(agents.id, agent.id));
      assert.equal(row.consecutiveInfraFailures, 0);
    } finally {
      await client.cancel(busy).catch(() => undefined);
      await client.close();
      await stopWorker(started);
    }
  });
});
