/**
 * The routing claim at the activity boundary: many tasks routed to one agent at the same moment
 * never take more than its concurrency, a retried decision is the recorded one even once the
 * agent is full, and a decision proposed on a shared read of the registry made before the agent
 * changed is claimed only if the agent, read again under its lock, still allows it.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { RoutingDecision } from '../../domain/activity-io';
import { AgentsBusyError, NoCapableAgentError } from '../../domain/errors';
import { and, eq } from 'drizzle-orm';
import { setAgentStatus } from '../../db/agents';
import { provenanceRows, recordRunEvent, verifyProvenance } from '../../db/provenance';
import { provenanceEvents, routingDecisions } from '../../db/schema';
import { sharedRoutingCandidates } from '../../db/routing-candidates';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { withInsertsRefused } from '../helpers/refuse-inserts';

/** A task received by `runId` of its workflow (so it counts against its agent once routed), and its activities. */
async function receivedTask(tenantId: string, runId = uniqueId('run')) {
  const ref = { tenantId, taskId: uniqueId('task') };
  const workflowId = taskWorkflowId(ref);
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }, { logger: SILENT_LOGGER });
  const a = createActivities(testActivityDeps());
  const at = new Date().toISOString();
  await env.run(a.recordTransition, { ...ref, workflowId, seq: 0, from: null, to: 'RECEIVED' as const, at, note: '' });
  const route = (agentHint?: string) =>
    env.run(a.routeTask, { ...ref, taskType: 'feature', agentHint }) as Promise<RoutingDecision>;
  return { route, ref, runId };
}

/** True for the failure routing gives when every capable agent is busy. */
function isBusy(err: unknown): boolean {
  return err instanceof ApplicationFailure && err.type === AgentsBusyError.type;
}

/** The shared read of `tenant`'s candidates as routing would use it now; routes one task first so it exists. */
async function sharedView(tenant: string) {
  return sharedRoutingCandidates(testStack().database.db, tenant, 'feature');
}

/**
 * Runs `act` after routing one task (so a shared read of the registry exists) and retries until
 * the shared read still predates `act` (a loaded machine may be slower than the sharing window):
 * what follows is then decided on a stale proposal.
 */
async function withStaleRead(tenant: string, act: () => Promise<void>, stillStale: () => Promise<boolean>) {
  for (let i = 0; i < 10; i++) {
    await (await receivedTask(tenant)).route();
    await act();
    if (await stillStale()) return;
  }
  assert.fail('the shared read never outlived the change: the stale path was not exercised');
}

describe('routing claim', function () {
  this.timeout(120_000);

  it('never gives an agent more tasks than its concurrency when they route at the same moment', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 2 });
    const tasks = await Promise.all(Array.from({ length: 6 }, () => receivedTask(tenant)));
    // Other events of the tenant join its chain meanwhile, through the batched path.
    const { db } = testStack().database;
    const others = Array.from({ length: 6 }, (_, i) =>
      recordRunEvent(db, { tenantId: tenant, taskId: `other-${i}`, runId: 'r' }, 'note', 'test.note', { i }),
    );
    const results = await Promise.allSettled(tasks.map((t) => t.route()));
    await Promise.all(others);
    const routed = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(routed.length, 2, 'exactly the agent’s concurrency is routed');
    for (const r of routed) assert.equal(r.value.agentId, agent.id);
    for (const r of refused) assert.ok(isBusy(r.reason), String(r.reason));
    assert.deepEqual((await verifyProvenance(db, tenant)).problems, [], 'the chain is intact');
    const kinds = (await provenanceRows(db, tenant)).map((e) => e.kind);
    assert.equal(kinds.filter((k) => k === 'task.routed').length, 2, 'one event per decision');
    assert.equal(kinds.filter((k) => k === 'test.note').length, 6, 'and every other event once');
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

  it('a decision is stored with its provenance event or not at all', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 10 });
    const task = await receivedTask(tenant);
    const { db } = testStack().database;
    const decisions = () =>
      db
        .select()
        .from(routingDecisions)
        .where(and(eq(routingDecisions.tenantId, tenant), eq(routingDecisions.taskId, task.ref.taskId)));
    await withInsertsRefused(provenanceEvents, tenant, 'provenance refused', async () => {
      await assert.rejects(task.route(), /provenance refused/);
      assert.deepEqual(await decisions(), [], 'no decision stored without its event');
    });
    const decided = await task.route();
    const routedEvents = () =>
      db
        .select()
        .from(provenanceEvents)
        .where(and(eq(provenanceEvents.tenantId, tenant), eq(provenanceEvents.kind, 'task.routed')));
    assert.deepEqual(
      (await routedEvents()).map((e) => [e.eventKey, e.payload.agentId]),
      [[`task/${task.ref.taskId}/run/${task.runId}/routed`, decided.agentId]],
    );
    assert.equal((await decisions()).length, 1);
    assert.deepEqual(await task.route(), decided, 'the retried decision is the recorded one');
    assert.equal((await routedEvents()).length, 1, 'and its event is not appended twice');
  });

  it('a paused agent is never claimed on a shared read made before the pause', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 100 });
    await withStaleRead(
      tenant,
      async () => void (await setAgentStatus(testStack().database.db, agent.id, 'paused')),
      async () => (await sharedView(tenant)).some((c) => c.agent.id === agent.id && c.agent.status === 'active'),
    );
    await assert.rejects(
      (await receivedTask(tenant)).route(agent.id),
      (e: unknown) =>
        e instanceof ApplicationFailure && e.type === NoCapableAgentError.type && /paused/.test(e.message),
    );
    await assert.rejects(
      (await receivedTask(tenant)).route(),
      (e: unknown) => e instanceof ApplicationFailure && e.type === NoCapableAgentError.type,
    );
  });

  it('an agent registered after a shared read is found when asked for by name', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 100 });
    let late = '';
    await withStaleRead(
      tenant,
      async () => void (late = (await addScriptedAgent(tenant, GOOD_PLAN)).id),
      async () => !(await sharedView(tenant)).some((c) => c.agent.id === late),
    );
    assert.equal((await (await receivedTask(tenant)).route(late)).agentId, late);
  });

  it('an agent re-registered without the task type is never claimed on a shared read made before', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 100 });
    await withStaleRead(
      tenant,
      async () => void (await addScriptedAgent(tenant, GOOD_PLAN, { id: agent.id, taskTypes: ['fix'] })),
      async () =>
        (await sharedView(tenant)).some(
          (c) => c.agent.id === agent.id && c.agent.capabilities.taskTypes[0] === 'feature',
        ),
    );
    await assert.rejects(
      (await receivedTask(tenant)).route(agent.id),
      (e: unknown) =>
        e instanceof ApplicationFailure && e.type === NoCapableAgentError.type && /does not handle/.test(e.message),
    );
  });
});
