/**
 * Attack (found in review): `recordTaskOutcome` took the verdict's outcome and gates from the
 * record, but the task type, the routing context and the cost term it credits them under from its
 * input. An insider's run credited its task's PASS to a task type and context the task was never
 * routed or validated as, and as a full failure under a cost term of its own: Thompson sampling then
 * steered the tenant's later tasks by outcomes no task had. They now come from the record: the
 * routing decision's task type, the context of the validated spec under the policy the run read,
 * that policy's cost term, and times no longer than since the agent was routed.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { agentContextStats, agentStats } from '../../db/schema';
import type { TrustedPolicy, ValidateSpecResult } from '../../domain/activity-io';
import { contextKey, routingContextOf } from '../../domain/routing-context';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, registeredPath, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { storeVerdictOf } from '../helpers/tasks';

describe('governance: what an outcome is credited under is the record', function () {
  this.timeout(120_000);

  it('a PASS routed as feature, tier 3, is credited there with reward 1, whatever the step claims', async () => {
    const a = createActivities(testActivityDeps());
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN, { taskTypes: ['feature', 'refactor'] });
    const ref = { tenantId: tenant, taskId: uniqueId('task') };
    const workflowId = taskWorkflowId(ref);
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId, runId: uniqueId('run') } },
      { logger: SILENT_LOGGER },
    );
    const at = new Date().toISOString();
    await env.run(a.recordTransition, { ...ref, workflowId, seq: 0, from: null, to: 'RECEIVED' as const, at });
    const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: specYaml() });
    const trusted: TrustedPolicy = await env.run(a.loadRepoPolicy, { ...ref, repoPath: await registeredPath(tenant) });
    const context = routingContextOf(validated.spec, trusted.policy, 'typescript');
    // Routed as another type too (routing weighs what its step names): the validated spec's mode counts.
    await env.run(a.routeTask, { ...ref, taskType: 'refactor', agentHint: agent.id, context });
    await storeVerdictOf(env, ref, agent.id, 'PASS', ['pass', 'pass', 'pass']);

    const result = (await env.run(a.recordTaskOutcome, {
      ...ref,
      agentId: agent.id,
      taskType: 'refactor',
      outcome: 'PASS' as const,
      gatesPassed: 0,
      gatesTotal: 3,
      latencyMs: 0,
      agentMs: 3_600_000,
      context: { taskType: 'refactor', riskTier: 1, size: 'large' as const, language: 'typescript' as const },
      costWeights: { perMillionTokens: 0, perUsd: 0, perMinute: 1000 },
    })) as { applied: boolean; reward: number };
    assert.deepEqual(result, { applied: true, reward: 1 }, 'the policy has no cost term; all three gates passed');

    const { db } = testStack().database;
    const stats = await db
      .select()
      .from(agentStats)
      .where(and(eq(agentStats.tenantId, tenant), eq(agentStats.agentId, agent.id)));
    assert.deepEqual(
      stats.map((s) => [s.taskType, s.tasks, s.successes, s.failures]),
      [['feature', 1, 1, 0]],
    );
    const contexts = await db
      .select({ context: agentContextStats.context })
      .from(agentContextStats)
      .where(and(eq(agentContextStats.tenantId, tenant), eq(agentContextStats.agentId, agent.id)));
    assert.deepEqual(
      contexts.map((c) => c.context),
      [contextKey(context)],
    );
    assert.match(contextKey(context), /^feature\/tier-3\/.*typescript$/);
  });
});
