/**
 * `executeAgent` runs only for the run that owns an open task. Found in review: workflows of an
 * insider's own, under ids that were no task's, ran a task's routed agent after the task ended,
 * three at once, on an agent whose one slot another task held.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { AgentRunResult, PreparedWorkspace, ValidateSpecResult } from '../../domain/activity-io';
import { tasks } from '../../db/schema';
import { SILENT_LOGGER } from '../../workers/logger';
import { addScriptedAgent, GOOD_PLAN, registeredPath, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { routeTo } from '../helpers/tasks';

const envOf = (workflowId: string) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: uniqueId('run') } }, { logger: SILENT_LOGGER });

describe('executeAgent for an ended task', function () {
  this.timeout(120_000);
  it("is refused from a workflow of one's own, so an agent's limit holds", async () => {
    const tenantId = uniqueId('insider');
    const a = createActivities(testActivityDeps());
    const agent = await addScriptedAgent(tenantId, GOOD_PLAN, { maxConcurrency: 1 });
    const ended = { tenantId, taskId: uniqueId('ended') };
    await routeTo(envOf(`task/${tenantId}/${ended.taskId}`), a, ended, agent.id);
    await testStack()
      .database.db.update(tasks)
      .set({ state: 'COMPLETED' })
      .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, ended.taskId)));
    const holder = { tenantId, taskId: uniqueId('holder') };
    await routeTo(envOf(`task/${tenantId}/${holder.taskId}`), a, holder, agent.id); // takes the one slot
    const third = { tenantId, taskId: uniqueId('third') };
    await assert.rejects(
      routeTo(envOf(`task/${tenantId}/${third.taskId}`), a, third, agent.id),
      /busy|capacity|limit/i,
    );
    const runs = await Promise.all(
      [1, 2, 3].map(async () => {
        const env = envOf(uniqueId('not-a-task-id'));
        const ws: PreparedWorkspace = await env.run(a.prepareWorkspace, {
          ...ended,
          repoPath: await registeredPath(tenantId),
        });
        const v: ValidateSpecResult = await env.run(a.validateSpec, { ...ended, specYaml: specYaml() });
        return env.run(a.executeAgent, {
          ...ended,
          agentId: agent.id,
          workspacePath: ws.workspacePath,
          baseCommit: ws.baseCommit,
          spec: v.specRef!,
        }) as Promise<AgentRunResult>;
      }),
    ).then(
      (r) => r.map((x) => x.agentId),
      (e: Error) => e.message,
    );
    assert.ok(typeof runs === 'string', `the agent ran: ${JSON.stringify(runs)}`);
    assert.match(runs, /already ended COMPLETED in run/);
  });
});
