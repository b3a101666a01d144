/**
 * A step whose worker process was SIGKILLed is retried within the heartbeat timeout, not at its
 * start-to-close timeout: what bounds a task's stall after a worker dies (the chaos suite's figure).
 */
import assert from 'node:assert/strict';
import { taskWorkflowId } from '../../temporal-config';
import { addScriptedAgent, taskInput, uniqueId } from '../helpers/fixtures';
import { traversableTempDir } from '../helpers/temp';
import { waitFor } from '../helpers/wait';
import { agentStep, clientOnQueue, killHard, workerProcessPerTest } from '../helpers/worker-process';

describe('a step on a worker that dies', function () {
  this.timeout(120_000);
  const spawnWorker = workerProcessPerTest();

  it('is retried within the heartbeat timeout', async () => {
    const taskQueue = uniqueId('dead-step-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'run', argv: ['sleep', '120'], timeoutSeconds: 180 }]);
    const input = await taskInput(tenant);
    const child = await spawnWorker(taskQueue, traversableTempDir('arbiter-dead-step-'));
    const client = await clientOnQueue(taskQueue);
    const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
    try {
      await client.submit(input);
      await waitFor('the agent step to start', async () => (await agentStep(handle))?.lastHeartbeatTime, 60_000);
      // Past the first beat, when a step beating at 80% of a long heartbeat timeout goes quiet longest.
      await new Promise((r) => setTimeout(r, 3000));
      await killHard(child);
      const killedAt = Date.now();
      await waitFor('the step to be retried', async () => ((await agentStep(handle))?.attempt ?? 0) >= 2, 60_000);
      const waited = Date.now() - killedAt;
      assert.ok(waited < 15_000, `retried ${waited} ms after its worker died`);
    } finally {
      await handle.terminate('test over').catch(() => undefined);
      await client.close();
    }
  });
});
