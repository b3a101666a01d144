/**
 * Routing that learns, on the real stack: outcomes feed the bandit exactly once, the router
 * then prefers the better agent, and the circuit breaker takes an agent with repeated
 * infrastructure failures out of routing and lets it back after the cool-down.
 */
import assert from 'node:assert/strict';
import { and, eq, sql } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { setAgentStatus, upsertAgent } from '../../db/agents';
import { stringify } from 'yaml';
import { agentContextStats, agentStats, agents, tasks } from '../../db/schema';
import type { RoutingDecision } from '../../domain/activity-io';
import {
  addScriptedAgent,
  circuitOf,
  GOOD_PLAN,
  makeRepo,
  registeredPath,
  registerRepo,
  specYaml,
  uniqueId,
} from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { ownTask, routeTo, runToEnd, storeVerdictOf } from '../helpers/tasks';

function activities(breaker = { threshold: 2, cooldownMs: 1500 }) {
  return createActivities(testActivityDeps({ breaker }));
}

/**
 * `routeTask` for `input`'s task, as `env`'s run, which owns the task's row as its transitions
 * would have made it; the task then ends at once, so the probes of a test hold no agent's capacity.
 */
async function route(
  env: MockActivityEnvironment,
  a: ReturnType<typeof activities>,
  input: Parameters<ReturnType<typeof activities>['routeTask']>[0],
): Promise<RoutingDecision> {
  await ownTask(env, input);
  const decision = (await env.run(a.routeTask, input)) as RoutingDecision;
  await endTask(input);
  return decision;
}

/** Ends `ref`'s task, as its run would: it holds its agent's capacity no longer. */
async function endTask(ref: { tenantId: string; taskId: string }): Promise<void> {
  await testStack()
    .database.db.update(tasks)
    .set({ state: 'COMPLETED' })
    .where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId)));
}

async function runTask(tenantId: string, agentHint?: string, baseRef?: string) {
  const input = {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId),
    agentHint,
    baseRef,
    gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js")'] }],
  };
  return runToEnd(input);
}

async function stats(tenantId: string, agentId: string) {
  const [row] = await testStack()
    .database.db.select()
    .from(agentStats)
    .where(and(eq(agentStats.tenantId, tenantId), eq(agentStats.agentId, agentId), eq(agentStats.taskType, 'feature')));
  return row;
}

describe('routing that learns', function () {
  this.timeout(120_000);

  it('updates statistics once per task and then prefers the agent that passes', async () => {
    // Fixed names (each run has its own database): the draws are seeded by tenant, task and agent,
    // so the run is the same every time rather than a sample that misses one time in twenty.
    const tenant = 'tenant-routing-learns';
    const good = await addScriptedAgent(tenant, GOOD_PLAN, { id: 'agent-learns-good' });
    const bad = await addScriptedAgent(
      tenant,
      [{ op: 'write', path: 'src/feature.js', content: 'throw new Error("broken")\n' }],
      {
        id: 'agent-learns-bad',
      },
    );
    for (const agent of [good.id, bad.id, good.id, bad.id]) await runTask(tenant, agent);
    assert.deepEqual([(await stats(tenant, good.id)).tasks, (await stats(tenant, good.id)).successes], [2, 2]);
    const badStats = await stats(tenant, bad.id);
    assert.equal(badStats.tasks, 2);
    assert.ok(badStats.successes < 0.5, `bad agent earned ${badStats.successes}`);

    const env = new MockActivityEnvironment();
    const a = activities();
    const picks: RoutingDecision[] = [];
    for (let i = 0; i < 20; i++)
      picks.push(await route(env, a, { tenantId: tenant, taskId: `probe-${i}`, taskType: 'feature' }));
    const goodPicks = picks.filter((p) => p.agentId === good.id).length;
    assert.ok(goodPicks >= 14, `good agent picked ${goodPicks}/20`);
    const explored = picks.filter((p) => p.agentId === bad.id);
    assert.ok(
      explored.every((p) => p.exploration),
      'picking the worse agent is recorded as exploration',
    );
  });

  it("learns per context too, net of the policy's cost term, and tries an agent new to the task type first", async () => {
    const tenant = uniqueId('tenant');
    // Its run lasts at least 100 ms of agent time (the sleep), which costs more than a pass is
    // worth under this policy (1000 a minute: 60 ms costs the whole pass): the verdict PASSes, the reward is 0.
    const slowPlan = [...GOOD_PLAN, { op: 'run' as const, argv: ['sleep', '0.1'], timeoutSeconds: 10 }];
    const veteran = await addScriptedAgent(tenant, slowPlan, { id: uniqueId('veteran') });
    // Tier 3's budget of 50 lines makes the task's size class small.
    const policy = stringify({
      version: 1,
      risk_tiers: { '3': { max_files: 5, max_loc: 50 } },
      arbiter: { routing_cost: { per_minute: 1000 } },
    });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(
        tenant,
        makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': policy }),
      ),
      agentHint: veteran.id,
      language: 'javascript' as const,
    };
    await assert.rejects(
      testStack().client.submit({ ...input, language: 'klingon' as 'javascript' }),
      /language/,
      'a language outside the list is refused: context keys carry no free text',
    );
    const final = await runToEnd(input);
    assert.equal(final.verdict?.outcome, 'PASS', JSON.stringify(final.error));
    const typeStats = await stats(tenant, veteran.id);
    assert.deepEqual([typeStats.tasks, typeStats.successes, typeStats.failures], [1, 0, 1]);
    const contextRows = await testStack()
      .database.db.select()
      .from(agentContextStats)
      .where(and(eq(agentContextStats.tenantId, tenant), eq(agentContextStats.agentId, veteran.id)));
    assert.deepEqual(
      contextRows.map((r) => [r.context, r.tasks, r.successes]),
      [['feature/tier-3/small/javascript', 1, 0]],
    );

    // Make the veteran look excellent: a plain Thompson draw would all but always pick it.
    await testStack()
      .database.db.update(agentStats)
      .set({ successes: 50, failures: 0 })
      .where(and(eq(agentStats.tenantId, tenant), eq(agentStats.agentId, veteran.id)));
    const newcomer = await addScriptedAgent(tenant, GOOD_PLAN, { id: uniqueId('newcomer') });
    const env = new MockActivityEnvironment();
    const a = activities();
    const context = { taskType: 'feature', riskTier: 3, size: 'small' as const };
    for (let i = 0; i < 5; i++) {
      const decision = await route(env, a, { tenantId: tenant, taskId: `probe-${i}`, taskType: 'feature', context });
      assert.equal(decision.agentId, newcomer.id, 'an agent never tried on the task type goes first');
    }
  });

  it('applies an outcome exactly once even when the activity runs twice', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const env = new MockActivityEnvironment();
    const a = activities();
    const task = { tenantId: tenant, taskId: uniqueId('task') };
    await routeTo(env, a, task, agent.id);
    await env.run(a.loadRepoPolicy, { ...task, repoPath: await registeredPath(tenant) });
    await storeVerdictOf(env, task, agent.id, 'PASS', ['pass', 'pass', 'pass']);
    const outcome = {
      ...task,
      agentId: agent.id,
      taskType: 'feature',
      outcome: 'PASS' as const,
      gatesPassed: 3,
      gatesTotal: 3,
      latencyMs: 1200,
      tokens: 500,
      costUsd: 0.01,
    };
    const first = (await env.run(a.recordTaskOutcome, outcome)) as { applied: boolean };
    const second = (await env.run(a.recordTaskOutcome, outcome)) as { applied: boolean };
    assert.deepEqual([first.applied, second.applied], [true, false]);
    const s = await stats(tenant, agent.id);
    assert.deepEqual([s.tasks, s.successes, s.failures, s.totalLatencyMs, s.totalTokens], [1, 1, 0, 1200, 500]);
  });

  it('opens the circuit after repeated infrastructure failures and closes it after a good probe', async () => {
    const tenant = uniqueId('tenant');
    const flaky = await addScriptedAgent(tenant, GOOD_PLAN);
    const steady = await addScriptedAgent(tenant, GOOD_PLAN);
    const env = new MockActivityEnvironment();
    const a = activities({ threshold: 2, cooldownMs: 6000 });
    const probe = () => route(env, a, { tenantId: tenant, taskId: uniqueId('t'), taskType: 'feature' });
    const report = async (ok: boolean) => {
      const task = { tenantId: tenant, taskId: uniqueId('t') };
      await routeTo(env, a, task, flaky.id);
      await env.run(a.recordAgentHealth, { ...task, agentId: flaky.id, ok });
      await endTask(task);
    };
    await report(false);
    await report(false);
    // Decisions share a read of the registry for 250 ms: the next ones must see the circuit open.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 8; i++) {
      const d = await probe();
      assert.equal(d.agentId, steady.id, 'an open circuit is skipped');
      const flakyCandidate = d.candidates.find((c) => c.agentId === flaky.id);
      assert.match(flakyCandidate?.reason ?? '', /circuit open until/);
    }
    await new Promise((r) => setTimeout(r, 6100));
    const probes = await Promise.all(Array.from({ length: 10 }, () => probe()));
    assert.ok(
      probes.some((d) => d.agentId === flaky.id),
      'after the cool-down the agent is routed to again',
    );
    await report(true);
    assert.deepEqual(await circuitOf(tenant, flaky.id), [0, null]);
  });

  // A tenant's own workflow code writes its runs' health reports: three of a shared agent's failures,
  // for tasks it routed there, had kept that agent out of every tenant's routing.
  it("a tenant's failure reports open its own circuit for a shared agent, not another tenant's", async () => {
    const [insider, other] = [uniqueId('tenant'), uniqueId('tenant')];
    const db = testStack().database.db;
    const shared = await upsertAgent(db, {
      id: uniqueId('shared'),
      kind: 'scripted',
      config: { steps: GOOD_PLAN },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 50,
    });
    try {
      const env = new MockActivityEnvironment();
      const a = activities({ threshold: 2, cooldownMs: 60_000 });
      for (let i = 0; i < 2; i++) {
        const task = { tenantId: insider, taskId: uniqueId('t') };
        await routeTo(env, a, task, shared.id);
        await env.run(a.recordAgentHealth, { ...task, agentId: shared.id, ok: false });
      }
      assert.equal((await circuitOf(insider, shared.id))[0], 2);
      await new Promise((r) => setTimeout(r, 300));
      await assert.rejects(routeTo(env, a, { tenantId: insider, taskId: uniqueId('t') }, shared.id), /circuit open/);
      assert.deepEqual(await circuitOf(other, shared.id), [0, null]);
      const task = { tenantId: other, taskId: uniqueId('t') };
      const decision = await route(env, a, { ...task, taskType: 'feature', agentHint: shared.id });
      assert.equal(decision.agentId, shared.id, "the other tenant's routing still takes the shared agent");
    } finally {
      await setAgentStatus(db, shared.id, 'retired');
    }
  });

  it('a misconfigured agent fails its tasks as infrastructure and trips its breaker', async () => {
    const tenant = uniqueId('tenant');
    const broken = await addScriptedAgent(tenant, GOOD_PLAN);
    await testStack()
      .database.db.update(agents)
      .set({ config: sql`'{"steps": "not a plan"}'::jsonb` })
      .where(eq(agents.id, broken.id));
    for (let i = 0; i < 3; i++) {
      const final = await runTask(tenant, broken.id);
      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'AgentConfigError');
    }
    const [failures, openUntil] = await circuitOf(tenant, broken.id);
    assert.equal(failures, 3);
    assert.ok(openUntil && openUntil > new Date(), 'the circuit is open');
  });

  it("a submitter's tasks failing before the agent runs (a bad baseRef) leave the agent's breaker alone", async () => {
    const tenant = uniqueId('tenant');
    const shared = await addScriptedAgent(tenant, GOOD_PLAN);
    for (let i = 0; i < 3; i++) {
      const final = await runTask(tenant, shared.id, 'no-such-ref');
      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'TargetRepoError');
    }
    assert.deepEqual(await circuitOf(tenant, shared.id), [0, null]);
    const next = await runTask(tenant, shared.id);
    assert.equal(next.state, 'COMPLETED', JSON.stringify(next.error));
    assert.equal(next.routing?.agentId, shared.id);
  });
});
