/**
 * The waiver window closing while an approval is being authorised: the approval was taken before
 * the deadline, so either it counts (the task is WAIVED) or it is refused with nothing recorded —
 * never reported approved for a task that failed, nor recorded against one. The authorisation is
 * held up by locking the approvers table, so the window closes in the middle of it.
 */
import assert from 'node:assert/strict';
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { waiverDecisions } from '../../db/schema';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate } from '../../workflows/definitions';
import { signedApproval, taskAwaitingWaiver } from '../helpers/approvers';

/** Holds an exclusive lock on the approvers table (every authorisation reads it) until `release` is called. */
async function lockApprovers(db: Db): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const held = db.transaction(async (tx) => {
    await tx.execute(sql`LOCK TABLE approvers IN ACCESS EXCLUSIVE MODE`);
    locked();
    await released;
  });
  await isLocked;
  return async () => {
    release();
    await held;
  };
}

describe('waiver window closing during an authorisation', function () {
  this.timeout(120_000);

  it('an approval in flight at the deadline either counts or is refused with nothing recorded', async () => {
    const { stack, input, waiting, keys } = await taskAwaitingWaiver({ windowHours: 20 / 3600 });
    const deadline = Date.parse(waiting.pendingWaiver!.deadline);
    const approval = await signedApproval(input, waiting.pendingWaiver!, keys.alice);
    const { db } = stack.database;
    const unlock = await lockApprovers(db);
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    const sent = handle.executeUpdate(approveWaiverUpdate, { args: [approval] }).then(
      (r) => ({ ok: true as const, status: r.status }),
      (err: Error) => ({ ok: false as const, error: err.message }),
    );
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 3000));
    await unlock();
    const answer = await sent;
    const final = await stack.client.watch(input, undefined, 200);
    const recorded = await db
      .select()
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, input.tenantId), eq(waiverDecisions.taskId, input.taskId)));
    if (answer.ok) {
      assert.equal(answer.status, 'approved');
      assert.equal(final.state, 'COMPLETED', `reported approved, but the task ended ${final.state}`);
      assert.equal(final.verdict?.outcome, 'WAIVED');
      assert.equal(recorded.length, 1);
    } else {
      assert.equal(final.state, 'FAILED');
      assert.equal(final.error?.type, 'WaiverExpired');
      assert.equal(recorded.length, 0, `refused (${answer.error}), yet recorded`);
    }
  });

  // Before: the queued decision ran when the one in flight finished, ahead of the desk's closing, and was recorded.
  it('a decision queued behind the one in flight at the deadline is refused with nothing recorded', async () => {
    const { stack, input, waiting, keys } = await taskAwaitingWaiver({ tier1: true, windowHours: 20 / 3600 });
    const deadline = Date.parse(waiting.pendingWaiver!.deadline);
    const { db } = stack.database;
    const unlock = await lockApprovers(db);
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    const send = async (who: 'alice' | 'bob') => {
      const approval = await signedApproval(input, waiting.pendingWaiver!, keys[who]);
      return handle.executeUpdate(approveWaiverUpdate, { args: [approval] }).then(
        (r) => ({ ok: true as const, status: r.status }),
        (err: Error) => ({ ok: false as const, error: err.message }),
      );
    };
    const alice = send('alice');
    await new Promise((r) => setTimeout(r, 1000));
    const bob = send('bob');
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 3000));
    await unlock();
    const [, bobs] = await Promise.all([alice, bob]);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'WaiverExpired');
    assert.equal(bobs.ok, false, `bob's queued decision was ${JSON.stringify(bobs)}`);
    const recorded = await db
      .select()
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, input.tenantId), eq(waiverDecisions.approver, 'bob')));
    assert.equal(recorded.length, 0, "bob's refused decision was recorded");
  });
});
