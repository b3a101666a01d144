/**
 * An insider with namespace access who has seen one approval while it was pending (it is in the
 * task's history) sends it again many times at once. The validator refuses a copy while the
 * first is being authorised (the desk's in-flight set), so it is recorded once and cannot use
 * up the approver's hourly rate limit for the whole tenant.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { waiverDecisions } from '../../db/schema';
import type { SignedDecision } from '../../domain/approval';
import { registeredApprover, signedApproval, taskAwaitingWaiver, updatesInHistory } from '../helpers/approvers';
import { testStack } from '../helpers/stack';
import { taskWorkflowId } from '../../temporal-config';
import { approversChangedSignal, approveWaiverUpdate, rejectWaiverUpdate } from '../../workflows/definitions';

describe('governance: one signed approval counts once, even sent many times at once', function () {
  this.timeout(120_000);

  it('concurrent copies of one approval are refused or folded before they reach history and the rate limit', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver({ tier1: true });
    const approval = await signedApproval(input, waiting.pendingWaiver!, keys.alice);
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    const sent = await Promise.allSettled(
      Array.from({ length: 8 }, () => handle.executeUpdate(approveWaiverUpdate, { args: [approval] })),
    );
    assert.ok(
      sent.some((s) => s.status === 'fulfilled'),
      'the genuine approval itself is taken',
    );
    const recorded = await stack.database.db
      .select()
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, input.tenantId), eq(waiverDecisions.taskId, input.taskId)));
    const accepted = await updatesInHistory(input);
    assert.equal(
      recorded.length,
      1,
      `one approval was recorded ${recorded.length} times (${accepted} update events in history)`,
    );
  });

  // Found in review: when the decision being authorised ended, every one queued behind it was released
  // at once and authorised side by side; bob's quorum-completing approval overtook carol's rejection.
  it('queued decisions are authorised in turn: a rejection queued before the last approval settles the request', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver({ tier1: true });
    const carolKey = await registeredApprover(input.tenantId, 'carol');
    const pending = waiting.pendingWaiver!;
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    await handle.signal(approversChangedSignal); // the desk reads the keys again, carol's with them
    await sleep(1500);
    const [alice, bob] = await Promise.all([keys.alice, keys.bob].map((k) => signedApproval(input, pending, k)));
    const carol = await signedApproval(input, pending, carolKey, { decision: 'reject', reason: 'split it up' });
    const send = (update: typeof approveWaiverUpdate, signed: SignedDecision) =>
      handle.executeUpdate(update, { args: [signed] }).then(
        (r) => r.status,
        (err: Error) => `refused: ${(err.cause as Error | undefined)?.message ?? err.message}`,
      );
    // Each authorisation waits at its insert while a transaction holds a row with its signature.
    const releaseAlice = await holdSignature(input, alice);
    const releaseCarol = await holdSignature(input, carol);
    const a = send(approveWaiverUpdate, alice);
    await sleep(1500);
    const c = send(rejectWaiverUpdate, carol);
    await sleep(1500);
    const b = send(approveWaiverUpdate, bob);
    await sleep(1500);
    await releaseAlice();
    await sleep(3000);
    await releaseCarol();
    const [alices, carols, bobs] = await Promise.all([a, c, b]);
    assert.equal(alices, 'pending');
    assert.equal(carols, 'rejected');
    assert.match(bobs, /refused: .*no waiver is pending/);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'WaiverRejected');
    const recorded = await stack.database.db
      .select({ approver: waiverDecisions.approver })
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, input.tenantId), eq(waiverDecisions.taskId, input.taskId)));
    assert.deepEqual(recorded.map((r) => r.approver).sort(), ['alice', 'carol'], 'nothing of bob is recorded');
  });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Holds `signed`'s authorisation at its insert: an uncommitted decision row with the same signature
 * (the unique index makes the insert wait) until the returned function rolls it back.
 */
async function holdSignature(task: { tenantId: string; taskId: string }, signed: SignedDecision) {
  let release!: () => void;
  let inserted!: () => void;
  const isIn = new Promise<void>((r) => (inserted = r));
  const held = testStack()
    .database.db.transaction(async (tx) => {
      await tx.insert(waiverDecisions).values({ ...task, approver: 'holder', decision: 'hold', detail: signed });
      inserted();
      await new Promise<void>((r) => (release = r));
      throw new Error('rolled back');
    })
    .catch(() => undefined);
  await isIn;
  return async () => {
    release();
    await held;
  };
}
