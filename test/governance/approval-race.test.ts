/**
 * An insider with namespace access who has seen one approval while it was pending (it is in the
 * task's history) sends it again many times at once. The validator refuses a copy while the
 * first is being authorised (the desk's in-flight set), so it is recorded once and cannot use
 * up the approver's hourly rate limit for the whole tenant.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { waiverDecisions } from '../../db/schema';
import { signedApproval, taskAwaitingWaiver, updatesInHistory } from '../helpers/approvers';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate } from '../../workflows/definitions';

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
});
