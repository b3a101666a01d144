/**
 * The host sweep's orphans, against real PostgreSQL and a real Temporal server: an unmarked
 * workspace is removed only when its own tenant's record of the task (if any) has not changed for
 * the grace, no attempt changed it for as long, and no run of the task is open (a reset run of an
 * ended task works in a workspace its record knows nothing of). A record a run left open (it was
 * terminated), or none (a task id an insider's own workflow code made up to hold a sandbox uid),
 * keeps nothing: that uid held until the host's end (found in review).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { tasks } from '../../db/schema';
import { ATTEMPT_FILE } from '../../host/workspace-lock';
import { hostTaskQueue, taskWorkflowId } from '../../temporal-config';
import { runStatusProbe } from '../../workers/run-status';
import { SILENT_LOGGER } from '../../workers/logger';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';

const HOUR = 3_600_000;

describe('the host sweep and orphaned workspaces', function () {
  this.timeout(60_000);

  it('removes only the unmarked workspace of a task quiet past the grace, idle as long, with no open run', async () => {
    const stack = testStack();
    const home = traversableTempDir('arbiter-orphans-');
    const hostQueue = hostTaskQueue(stack.taskQueue, 'orphan-host');
    const tenantId = uniqueId('tenant');
    const otherTenant = uniqueId('tenant');
    const root = (task: string) => path.join(home, 'workspaces', tenantId, task);
    const make = (task: string, changedMsAgo = 30 * HOUR) => {
      mkdirSync(path.join(root(task), 'tree'), { recursive: true });
      writeFileSync(path.join(root(task), ATTEMPT_FILE), `${Date.now() - changedMsAgo}\n`);
    };
    for (const task of ['orphan', 'running', 'ended-lately', 'reset', 'no-record', 'other-tenants']) make(task);
    make('changed-lately', 2 * HOUR);
    const long = new Date(Date.now() - 30 * HOUR);
    await stack.database.db.insert(tasks).values([
      { tenantId, id: 'orphan', workflowId: 'w', state: 'COMPLETED', updatedAt: long },
      { tenantId, id: 'running', workflowId: 'w', state: 'EXECUTING', updatedAt: long },
      { tenantId, id: 'ended-lately', workflowId: 'w', state: 'FAILED', updatedAt: new Date(Date.now() - 2 * HOUR) },
      { tenantId, id: 'changed-lately', workflowId: 'w', state: 'COMPLETED', updatedAt: long },
      { tenantId, id: 'reset', workflowId: 'w', state: 'COMPLETED', updatedAt: long },
      {
        tenantId,
        id: 'other-tenants',
        workflowId: 'w',
        state: 'EXECUTING',
        updatedAt: new Date(Date.now() - 2 * HOUR),
      },
      { tenantId: otherTenant, id: 'other-tenants', workflowId: 'w', state: 'COMPLETED', updatedAt: long },
    ]);
    // A run of 'reset' is open (no worker polls its queue): as after an insider reset the ended task.
    const open = await stack.client.temporal.workflow.start('taskWorkflow', {
      taskQueue: uniqueId('nobody-polls'),
      workflowId: taskWorkflowId({ tenantId, taskId: 'reset' }),
      args: [{}],
    });
    try {
      const { sweepRetainedWorkspaces } = createMaintenanceActivities(
        testActivityDeps({
          home,
          hostQueue,
          retentionHours: 24,
          runIsOpen: runStatusProbe(stack.env.nativeConnection, { namespace: stack.env.namespace ?? 'default' }),
        }),
      );
      const env = new MockActivityEnvironment({ taskQueue: hostQueue }, { logger: SILENT_LOGGER });
      const result = await env.run(sweepRetainedWorkspaces);
      assert.deepEqual(result, { hostQueue, removed: 3, failed: 0 });
      for (const removed of ['orphan', 'running', 'no-record'])
        assert.ok(!existsSync(root(removed)), `${removed}: quiet 30 h, idle as long, no run open: removed`);
      for (const kept of ['ended-lately', 'changed-lately', 'reset', 'other-tenants'])
        assert.ok(existsSync(root(kept)), `${kept} kept`);
    } finally {
      await open.terminate('test over');
    }
  });
});
