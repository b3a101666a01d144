/**
 * An insider with write access to one namespace starts a task's workflow there under another
 * tenant's workflow id (`task/<tenant>/<task>`). Against a real worker whose mapping serves that
 * tenant in another namespace, the run fails at its first step having written nothing: the
 * tenant's task running in its own namespace is not taken over, a task id the tenant has yet to
 * use is not taken, and the tenant's provenance chain gets no event. A tenant the worker does
 * serve in this namespace still runs (the control).
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { WorkflowFailedError } from '@temporalio/client';
import { provenanceEvents, taskEvents, tasks } from '../../db/schema';
import { taskWorkflowId } from '../../temporal-config';
import { registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { workerProcessPerTest } from '../helpers/worker-process';

/** The failure types along `err`'s chain of causes. */
function failureTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err as { cause?: unknown; type?: unknown } | undefined; e; e = e.cause as typeof e)
    if (typeof e.type === 'string') types.push(e.type);
  return types;
}

describe("a run in another namespace than its tenant's (real worker)", function () {
  this.timeout(180_000);
  const spawnWorker = workerProcessPerTest();

  it('fails at its first step and writes nothing for the tenant; a tenant served here still runs', async () => {
    const { client, database } = testStack();
    const [victim, local] = [uniqueId('tenant'), uniqueId('tenant')];
    const taskQueue = uniqueId('namespaces');
    await spawnWorker(taskQueue, traversableTempDir('arbiter-namespaces-'), {
      ARBITER_TENANT_NAMESPACES: `${victim}=victim-ns,${local}=default`,
    });
    const running = uniqueId('task');
    const genuine = { state: 'VERIFYING' as const, runId: 'genuine-run', lastSeq: 7 };
    const workflowId = (tenantId: string, taskId: string) => taskWorkflowId({ tenantId, taskId });
    await database.db
      .insert(tasks)
      .values({ tenantId: victim, id: running, workflowId: workflowId(victim, running), ...genuine });
    const repo = await registerRepo(victim);
    const start = (tenantId: string, taskId: string) =>
      client.temporal.workflow.start('taskLifecycle', {
        taskQueue,
        workflowId: workflowId(tenantId, taskId),
        args: [{ tenantId, taskId, specYaml: specYaml(), repo }],
      });

    for (const taskId of [running, uniqueId('task')]) {
      const failure = await (await start(victim, taskId)).result().catch((err: unknown) => err);
      assert.ok(failure instanceof WorkflowFailedError, `the run did not fail: ${JSON.stringify(failure)}`);
      assert.ok(failureTypes(failure).includes('TenantNamespaceError'), failureTypes(failure).join(' < '));
    }
    const rows = await database.db.select().from(tasks).where(eq(tasks.tenantId, victim));
    assert.deepEqual(
      rows.map((r) => ({ id: r.id, state: r.state, runId: r.runId, lastSeq: r.lastSeq })),
      [{ id: running, ...genuine }],
      'the running task is not taken over, and no other task id is taken',
    );
    assert.equal((await database.db.select().from(taskEvents).where(eq(taskEvents.tenantId, victim))).length, 0);
    assert.equal(
      (await database.db.select().from(provenanceEvents).where(eq(provenanceEvents.tenantId, victim))).length,
      0,
    );

    // The control: a tenant served in this namespace gets past its first steps (to REJECTED, its repository unknown here).
    const control = uniqueId('task');
    const ended = await (await start(local, control)).result();
    assert.equal((ended as { state: string }).state, 'REJECTED');
    const [row] = await database.db
      .select()
      .from(tasks)
      .where(and(eq(tasks.tenantId, local), eq(tasks.id, control)));
    assert.equal(row?.state, 'REJECTED');
    assert.match(row?.error ?? '', /UnknownRepoError|repository/);
  });
});
