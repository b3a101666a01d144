/**
 * The per-run limits Arbiter sets on its servers (SERVER_RUN_LIMITS), against the dev server the
 * tests run. Found in review: an insider's empty signals took a task waiting for a waiver past
 * Temporal's event limit, and a few refused 1.9 MB updates in flight made every workflow task's
 * reply too large for gRPC, so the task could not be queried and a cancel took seconds.
 */
import assert from 'node:assert/strict';
import { SERVER_RUN_LIMITS, taskWorkflowId } from '../../temporal-config';
import { approversChangedSignal } from '../../workflows/definitions';
import { taskAwaitingWaiver } from '../helpers/approvers';
import { waitForState } from '../helpers/wait';

const SIGNALS = SERVER_RUN_LIMITS['history.maximumSignalsPerExecution'];

describe('per-run server limits', function () {
  this.timeout(300_000);

  it('refuses a large update at the door, so the task still answers queries', async () => {
    const { input, stack } = await taskAwaitingWaiver({ windowHours: 24 });
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    const refused = await Promise.all(
      Array.from({ length: 4 }, () =>
        handle.executeUpdate('noSuchUpdate', { args: ['x'.repeat(1_900_000)] }).then(
          () => 'accepted',
          (err: Error) => err.message,
        ),
      ),
    );
    for (const message of refused) assert.doesNotMatch(message, /^accepted$/);
    const snapshot = await stack.client.status(input);
    assert.equal(snapshot.state, 'VERIFYING');
    const history = (await handle.fetchHistory()).events ?? [];
    assert.equal(history.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed');
  });

  it(`takes at most ${SIGNALS} signals a run, and a cancel still ends the task`, async () => {
    const { input, stack } = await taskAwaitingWaiver({ windowHours: 24 });
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    let sent = 0;
    const refusals: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (sent < SIGNALS + 20 && refusals.length === 0) {
          sent++;
          await handle.signal(approversChangedSignal).catch((err: Error) => refusals.push(err.message));
        }
      }),
    );
    assert.ok(refusals.length > 0, `all ${sent} signals were taken`);
    assert.ok(sent > SIGNALS - 20, `refused after ${sent}: ${refusals[0]}`);
    assert.equal((await handle.describe()).status.name, 'RUNNING');
    // Whoever changes the approvers next is told this task missed it, not that every task was told.
    const announced = await stack.client.announceApproversChanged(input.tenantId);
    assert.deepEqual(announced, { told: [], missed: [taskWorkflowId(input)] });
    await stack.client.cancel(input, 'after the flood');
    const ended = await waitForState(input, (s) => s.state === 'CANCELLED', 60_000);
    assert.equal(ended.state, 'CANCELLED');
  });
});
