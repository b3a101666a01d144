/**
 * The routing claim at the activity boundary: many tasks routed to one agent at the same moment
 * never take more than its concurrency, and a retried decision is the recorded one even once the
 * agent is full.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { RoutingDecision } from '../../domain/activity-io';
import { AgentsBusyError } from '../../domain/errors';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';

/** A task received by `runId` of its workflow (so it counts against its agent once routed), and its activities. */
async function receivedTask(tenantId: string, runId = uniqueId('run')) {
  const ref = { tenantId, taskId: uniqueId('task') };
  const workflowId = taskWorkflowId(ref);
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }, { logger: SILENT_LOGGER });
  const a = createActivities(testActivityDeps());
  const at = new Date().toISOString();
  await env.run(a.recordTransition, { ...ref, workflowId, seq: 0, from: null, to: 'RECEIVED' as const, at, note: '' });
  const route = () => env.run(a.routeTask, { ...ref, taskType: 'feature' }) as Promise<RoutingDecision>;
  return { route };
}

/** True for the failure routing gives when every capable agent is busy. */
function isBusy(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === AgentsBusyError.type;
}

describe('routing claim', function () {
  this.timeout(120_000);

  it('never gives an agent more tasks than its concurrency when they route at the same moment', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 2 });
    const tasks = await Promise.all(Array.from({ length: 6 }, () => receivedTask(tenant)));
    const results = await Promise.allSettled(tasks.map((t) => t.route()));
    const routed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(routed.length, 2, 'exactly the agent’s concurrency is routed');
    for (const r of routed) assert.equal(r.value.agentId, agent.id);
    for (const r of refused) assert.ok(isBusy(r.reason), String(r.reason));
  });

  it('a retried decision returns the recorded one, even though its own task now fills the agent', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 1 });
    const task = await receivedTask(tenant);
    const first = await task.route();
    assert.equal(first.agentId, agent.id);
    assert.equal(first.agentKind, 'scripted');
    assert.deepEqual(await task.route(), first);
    await assert.rejects((await receivedTask(tenant)).route(), isBusy);
  });
});
