/**
 * An insider (write access to the tenant's namespace) terminates a task's run while
 * `deliverChange` writes its branch, so the task never reaches COMPLETED, then starts the task id
 * again naming another of the tenant's repositories. Found in review: the new run took the
 * unfinished task over, passed, and delivered `arbiter/<task>` into the second repository too.
 * The first run's claim on the delivery now ends the task for every other run.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { WorkflowFailedError } from '@temporalio/client';
import { provenanceEvents } from '../../db/schema';
import { initialSearchAttributes, TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, registerRepo, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor, waitForState } from '../helpers/wait';

describe('a task whose delivery a run claimed', function () {
  this.timeout(180_000);

  it('is neither taken over nor delivered elsewhere by a run started after the first was terminated mid-delivery', async () => {
    const { client, database } = testStack();
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const [repo1, repo2] = [makeRepo(), makeRepo()];
    const input = await taskInput(tenant, repo1);
    const repo2Name = await registerRepo(tenant, repo2);
    const workflowId = taskWorkflowId(input);
    const branch = `arbiter/${input.taskId}`;
    const deliveries = () =>
      database.db
        .select({ payload: provenanceEvents.payload })
        .from(provenanceEvents)
        .where(
          and(
            eq(provenanceEvents.tenantId, tenant),
            eq(provenanceEvents.subject, `${tenant}/${input.taskId}`),
            eq(provenanceEvents.kind, 'change.delivered'),
          ),
        );

    // The task is held in VERIFIED (its feedback step writes agent_outcomes), then provenance
    // appends are held, so deliverChange makes its branch and waits to record its event.
    const holdVerified = await database.pool.connect();
    const holdEvents = await database.pool.connect();
    try {
      await holdVerified.query('BEGIN');
      await holdVerified.query('LOCK TABLE agent_outcomes IN EXCLUSIVE MODE');
      await client.submit(input);
      const verified = await waitForState(input, (s) => ['VERIFIED', 'COMPLETED', 'FAILED'].includes(s.state), 60_000);
      assert.equal(verified.state, 'VERIFIED', JSON.stringify(verified.error));
      await holdEvents.query('BEGIN');
      await holdEvents.query('LOCK TABLE provenance_events IN EXCLUSIVE MODE');
      await holdVerified.query('ROLLBACK');
      await waitFor('the first delivery branch', async () =>
        gitIn(repo1, 'for-each-ref', `refs/heads/${branch}`) ? true : undefined,
      );
      await client.temporal.workflow.getHandle(workflowId).terminate('insider');
    } finally {
      await holdVerified.query('ROLLBACK').catch(() => undefined);
      holdVerified.release();
      await holdEvents.query('ROLLBACK').catch(() => undefined);
      holdEvents.release();
    }
    await waitFor('the first run’s delivery to be recorded', async () =>
      (await deliveries()).length ? true : undefined,
    );

    const second = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: testStack().taskQueue,
      args: [{ ...input, repo: repo2Name }],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: initialSearchAttributes(tenant),
    });
    const ended = await second.result().catch((err: unknown) => err);
    assert.ok(ended instanceof WorkflowFailedError, `the second run fails: ${String(ended)}`);
    assert.match(String((ended.cause as Error | undefined)?.message), /is delivered \(state VERIFIED\) in run/);
    assert.equal(
      gitIn(repo2, 'for-each-ref', `refs/heads/${branch}`),
      '',
      'nothing delivered into the second repository',
    );
    assert.equal((await deliveries()).length, 1, 'one delivery recorded for the task');
  });
});
