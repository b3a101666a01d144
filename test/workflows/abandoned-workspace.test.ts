/**
 * A workspace left on a host the task gave up as lost: when that host comes back before the task
 * ends, the workflow marks its copy for the host's retention sweep. Unmarked, the sweep would
 * remove it (and free its sandbox uid) only as an orphan, a retention after the task ended.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { TaskSnapshot } from '../../domain/task';
import { sweepWorkspaces } from '../../host/workspace-retention';
import { taskWorkflowId } from '../../temporal-config';
import { goodTaskInput, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { clientOnQueue } from '../helpers/worker-process';
import { waitForState } from '../helpers/wait';

/**
 * Host A back: the worker on its own host queue, where the workflow addresses its workspace (this
 * process may hold only one worker on the shared queue, and host B's is it).
 */
function hostQueueWorker(home: string, hostQueue: string): Promise<Worker> {
  const stack = testStack();
  return Worker.create({
    connection: stack.env.nativeConnection,
    namespace: stack.env.namespace ?? 'default',
    taskQueue: hostQueue,
    activities: createActivities(testActivityDeps({ home, hostQueue })),
    shutdownGraceTime: '2s',
  });
}

describe('a workspace abandoned on a lost host', function () {
  this.timeout(120_000);

  it('is marked for that host’s retention sweep when the host is back before the task ends', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('abandoned-queue');
    const [homeA, homeB] = ['arbiter-host-a-', 'arbiter-host-b-'].map(traversableTempDir);
    const client = await clientOnQueue(taskQueue);
    const hostA = await stack.startWorker(taskQueue, homeA);
    const stopped: Array<{ worker: { shutdown(): void }; running: Promise<void> }> = [];
    try {
      const input = {
        ...(await goodTaskInput()),
        hostLossTimeoutSeconds: 3,
        gates: [{ name: 'slow', argv: ['sh', '-c', 'sleep 8'] }],
      };
      await client.submit(input);
      const onA = await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
      hostA.worker.shutdown();
      await hostA.running;
      const hostB = await stack.startWorker(taskQueue, homeB);
      stopped.push(hostB);
      const queueB = hostB.worker.hostQueue;
      await waitForState(input, (s) => s.workspace?.hostQueue === queueB && s.subState === 'gate:slow', 60_000);
      const backA = await hostQueueWorker(homeA, onA.workspace!.hostQueue);
      stopped.push({ worker: backA, running: backA.run() });

      const final = (await client.temporal.workflow.getHandle(taskWorkflowId(input)).result()) as TaskSnapshot;
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      assert.equal(final.workspace?.hostQueue, queueB);
      const abandoned = path.join(homeA, 'workspaces', input.tenantId, input.taskId);
      assert.ok(existsSync(path.join(abandoned, 'retained-until')), 'the abandoned workspace is marked');
      const later = new Date(Date.now() + 25 * 3_600_000);
      assert.deepEqual((await sweepWorkspaces(homeA, later)).removed, [abandoned], 'and its host’s sweep removes it');
    } finally {
      for (const w of stopped.reverse()) {
        w.worker.shutdown();
        await w.running;
      }
      await client.close();
    }
  });
});
