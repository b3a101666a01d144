/**
 * Routing and feedback act only for the run that owns the task's row, and feedback credits only
 * the run's own verdict. Found in review: an insider's own workflow code, calling Arbiter's
 * activities, routed task ids no transition recorded (their decisions held no capacity, so a
 * shared agent ran past its limit), recorded thirty PASSes for tasks that never ran (the chosen
 * agent became the tenant's favourite), and a FAIL for another run's task ahead of its own outcome.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { agentStats, tasks } from '../../db/schema';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, registeredPath, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { storeVerdictOf } from '../helpers/tasks';

/** A run of workflow code of one's own: any workflow id, any run id. */
const ownRun = (workflowId = uniqueId('wf')) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: uniqueId('run') } }, { logger: SILENT_LOGGER });

/** A task received by a run under its own workflow id: its first transition records the row. */
async function receivedTask(tenantId: string) {
  const ref = { tenantId, taskId: uniqueId('task') };
  const workflowId = taskWorkflowId(ref);
  const env = ownRun(workflowId);
  const at = new Date().toISOString();
  await env.run(createActivities(testActivityDeps()).recordTransition, {
    ...{ ...ref, workflowId, seq: 0, from: null, to: 'RECEIVED' as const, at, note: '' },
  });
  return { ref, env };
}

describe('routing and feedback for the run that owns the task', function () {
  this.timeout(120_000);
  let a: ReturnType<typeof createActivities>;
  before(() => (a = createActivities(testActivityDeps())));
  const outcomeOf = (ref: { tenantId: string; taskId: string }, agentId: string) => ({
    ...{ ...ref, agentId, taskType: 'feature', gatesPassed: 0, gatesTotal: 0, latencyMs: 0 },
  });

  it('routeTask refuses a task no transition recorded, and one another run owns', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const madeUp = { tenantId: tenant, taskId: uniqueId('madeup'), taskType: 'feature', agentHint: agent.id };
    await assert.rejects(ownRun().run(a.routeTask, madeUp), /is not recorded/);
    const { ref, env } = await receivedTask(tenant);
    await assert.rejects(ownRun().run(a.routeTask, { ...ref, taskType: 'feature' }), /is run .*'s, not run/);
    await env.run(a.routeTask, { ...ref, taskType: 'feature', agentHint: agent.id });
  });

  it('recordTaskOutcome credits the run’s own verdict, never its claim, and only for the run that owns the task', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const { ref, env } = await receivedTask(tenant);
    await env.run(a.loadRepoPolicy, { ...ref, repoPath: await registeredPath(tenant) });
    await env.run(a.routeTask, { ...ref, taskType: 'feature', agentHint: agent.id });
    const claimPass = { ...outcomeOf(ref, agent.id), outcome: 'PASS' as const, gatesPassed: 3, gatesTotal: 3 };
    await assert.rejects(env.run(a.recordTaskOutcome, claimPass), /has no verdict, so its outcome can only be a FAIL/);
    await assert.rejects(
      ownRun().run(a.recordTaskOutcome, { ...outcomeOf(ref, agent.id), outcome: 'FAIL' as const }),
      /is run .*'s, not run/,
      "another run's FAIL does not take the task's place",
    );
    await storeVerdictOf(env, ref, agent.id, 'FAIL', ['pass', 'fail']);
    const recorded = (await env.run(a.recordTaskOutcome, claimPass)) as { applied: boolean; reward: number };
    assert.equal(recorded.applied, true);
    const [row] = await testStack()
      .database.db.select()
      .from(agentStats)
      .where(
        and(eq(agentStats.tenantId, tenant), eq(agentStats.agentId, agent.id), eq(agentStats.taskType, 'feature')),
      );
    assert.deepEqual([row.tasks, row.failures > 0], [1, true], 'the verdict’s FAIL was counted, not the claimed PASS');
    assert.ok(row.successes < 1, `partial credit at most: ${row.successes}`);
  });

  // Found in review of the first version of this check: a task waiting in ROUTING failed when reset,
  // and a reset run's agent failure went uncounted, since the reset run had recorded no transition yet.
  it('a run under the task’s workflow id that has not yet taken the open task over acts as its successor', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const { ref } = await receivedTask(tenant);
    const reset = ownRun(taskWorkflowId(ref));
    await reset.run(a.routeTask, { ...ref, taskType: 'feature', agentHint: agent.id });
    const health = (await reset.run(a.recordAgentHealth, { ...ref, agentId: agent.id, ok: false })) as {
      applied: boolean;
    };
    assert.equal(health.applied, true);
    const rows = testStack().database.db;
    await rows
      .update(tasks)
      .set({ deliveringRunId: 'another-run' })
      .where(and(eq(tasks.tenantId, tenant), eq(tasks.id, ref.taskId)));
    await assert.rejects(
      ownRun(taskWorkflowId(ref)).run(a.routeTask, { ...ref, taskType: 'feature' }),
      /not run/,
      'not once a run claimed its delivery',
    );
    await rows
      .update(tasks)
      .set({ deliveringRunId: null, state: 'FAILED' })
      .where(and(eq(tasks.tenantId, tenant), eq(tasks.id, ref.taskId)));
    await assert.rejects(
      ownRun(taskWorkflowId(ref)).run(a.routeTask, { ...ref, taskType: 'feature' }),
      /already ended FAILED/,
      'nor once the task ended',
    );
  });
});
