/**
 * Attack (an operator's cancel ignored): the steps after the verdict cannot be cancelled, so a
 * cancel sent while the task was VERIFIED was recorded and the change delivered all the same.
 * The task is held in VERIFIED by locking the table its feedback step writes, the cancel is sent,
 * the lock let go: the task ends CANCELLED, its run Canceled, and no branch is made.
 */
import assert from 'node:assert/strict';
import { taskWorkflowId } from '../../temporal-config';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor, waitForState } from '../helpers/wait';

describe('a cancel sent once the verdict is signed', function () {
  this.timeout(120_000);

  it('ends the task CANCELLED and delivers nothing', async () => {
    const { client, database } = testStack();
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo);
    const lock = await database.pool.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE agent_outcomes IN EXCLUSIVE MODE');
      await client.submit(input);
      const verified = await waitForState(input, (s) => ['VERIFIED', 'COMPLETED', 'FAILED'].includes(s.state), 60_000);
      assert.equal(verified.state, 'VERIFIED', JSON.stringify(verified.error));
      await client.cancel(input, 'a suspect change');
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }
    const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
    const status = await waitFor('the run to close', async () => {
      const { name } = (await handle.describe()).status;
      return name === 'RUNNING' ? undefined : name;
    });
    const final = await client.status(input);
    assert.equal(final.state, 'CANCELLED', JSON.stringify(final.history.map((h) => h.state)));
    assert.equal(final.delivery, null, 'nothing was delivered');
    assert.equal(gitIn(repo, 'for-each-ref', 'refs/heads/arbiter/'), '', 'no delivery branch');
    assert.equal(status, 'CANCELLED');
  });
});
