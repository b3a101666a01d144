/**
 * Waivers over Temporal on the real stack: a budget overrun pauses the task in VERIFYING
 * (awaiting_waiver) until registered approvers approve it with their keys (WAIVED, delivered)
 * or reject it (FAILED), or the policy's window passes; malformed input never reaches history;
 * unknown approvers are refused; tier 1 needs two distinct keys; the `temporal` CLI alone works
 * with a decision `arbiter approve --print` signed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { temporalCliPath } from '../../client/paths';
import { waivers } from '../../db/schema';
import type { TaskSnapshot } from '../../domain/task';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate } from '../../workflows/definitions';
import { signedApproval, taskAwaitingWaiver, type TestApprover } from '../helpers/approvers';
import { revokeApprover } from '../../db/waivers';
import { activitiesRun } from '../helpers/history';
import { refExists } from '../governance/helpers';
import { defaultSigningKeyFile } from '../../workers/worker';
import { arbiter } from '../helpers/cli';
import { gitIn } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

const env = () => ({ TEMPORAL_ADDRESS: testStack().address, DATABASE_URL: testStack().databaseUrl });
const approve = (task: string, approver: string, key: TestApprover, extra: string[] = []) =>
  arbiter(
    [
      'approve',
      task,
      '--approver',
      approver,
      '--key',
      key.keyFile,
      '--reason-code',
      'architectural_refactor',
      '--expires-in',
      '72h',
      ...extra,
    ],
    env(),
  );
const reject = (task: string, approver: string, key: TestApprover, reason: string) =>
  arbiter(['reject', task, '--approver', approver, '--key', key.keyFile, '--reason', reason], env());

/** What `arbiter approve --print` writes: the signed decision, sent by nobody yet. */
async function printedApproval(task: string, approver: string, key: TestApprover): Promise<string> {
  const printed = await approve(task, approver, key, ['--print']);
  assert.equal(printed.code, 0, printed.stderr);
  assert.doesNotMatch(printed.stdout, /waiver (approved|pending)/, 'nothing was sent');
  return printed.stdout.trim();
}

describe('waivers over Temporal', function () {
  this.timeout(90_000);

  it('pauses for a waiver, and an authorised approval makes the verdict WAIVED and delivers', async () => {
    const { stack, tenant, repo, input, waiting, keys } = await taskAwaitingWaiver();
    assert.equal(waiting.state, 'VERIFYING');
    assert.deepEqual(waiting.pendingWaiver?.delta, { maxFiles: 1, maxLoc: 0 });
    assert.equal(waiting.pendingWaiver?.approversRequired, 1);
    const status = JSON.parse((await arbiter(['status', `${tenant}/${input.taskId}`, '--json'], env())).stdout);
    assert.equal(status.pendingWaiver.gates[0], 'budget');
    const res = await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /waiver approved \(1\/1 approval/);
    assert.ok(res.stdout.includes(keys.alice.keyId), res.stdout);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED');
    assert.equal(final.verdict?.outcome, 'WAIVED');
    assert.match(final.gates.find((g) => g.name === 'budget')?.detail ?? '', /waived by WV-/);
    assert.equal(gitIn(repo, 'show', `arbiter/${input.taskId}:src/f3.js`), '3');
    const [row] = await stack.database.db
      .select()
      .from(waivers)
      .where(and(eq(waivers.tenantId, tenant), eq(waivers.taskId, input.taskId)));
    assert.equal(row.status, 'active');
    assert.deepEqual(row.delta, { max_files: 1, max_loc: 0 });
    assert.deepEqual(
      row.approvers.map((a) => [a.handle, a.key_id]),
      [['alice', keys.alice.keyId]],
    );
    assert.equal(row.approvals[0].claim.treeId, waiting.diff?.treeId, 'the stored approval names the verified tree');
    assert.equal(row.specId, waiting.spec?.id);
    const workerKey = `${defaultSigningKeyFile(stack.home)}.pub`;
    const verified = await arbiter(['verdict', 'verify', `${tenant}/${input.taskId}`, '--key', workerKey, '--json'], {
      ...env(),
      ARBITER_HOME: stack.home,
    });
    const summary = JSON.parse(verified.stdout);
    assert.equal(summary.outcome, 'WAIVED');
    assert.equal(summary.verificationResult, 'PASSED', 'a waived change passed its policy, waiver included');
    assert.deepEqual(summary.verifiedLevels, ['CAWS_TIER_3_WAIVED'], 'never the plain tier level');
  });

  it('a rejection fails the task and delivers nothing', async () => {
    const { stack, tenant, repo, input, keys } = await taskAwaitingWaiver();
    const res = await reject(`${tenant}/${input.taskId}`, 'bob', keys.bob, 'too big for one change');
    assert.equal(res.code, 0, res.stderr);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.error, {
      type: 'WaiverRejected',
      message: 'waiver rejected by bob: too big for one change',
    });
    assert.equal(final.verdict?.outcome, 'FAIL');
    assert.equal(gitIn(repo, 'branch', '--list', `arbiter/${input.taskId}`), '');
  });

  it('refuses an unknown approver and one not allowed at the tier; the task keeps waiting', async () => {
    const { stack, tenant, input, keys } = await taskAwaitingWaiver({ tier1: true });
    const stranger = await approve(`${tenant}/${input.taskId}`, 'mallory', keys.alice);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /'mallory' is not an approver for tenant/);
    const lowTier = await approve(`${tenant}/${input.taskId}`, 'tier3-only', keys['tier3-only']);
    assert.equal(lowTier.code, 1);
    assert.match(lowTier.stderr, /may not decide waivers at risk tier 1/);
    const s = await stack.client.status(input);
    assert.equal(s.subState, 'awaiting_waiver');
    assert.deepEqual(s.pendingWaiver?.approvals, []);
    await reject(`${tenant}/${input.taskId}`, 'alice', keys.alice, 'cleanup');
  });

  it('tier 1 needs two distinct approvers', async () => {
    const { stack, tenant, input, waiting, keys } = await taskAwaitingWaiver({ tier1: true });
    assert.equal(waiting.pendingWaiver?.approversRequired, 2);
    const first = await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    assert.match(first.stdout, /waiver pending \(1\/2 approval/);
    const again = await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /'alice' has already approved this waiver/);
    assert.equal((await stack.client.status(input)).subState, 'awaiting_waiver');
    const second = await approve(`${tenant}/${input.taskId}`, 'bob', keys.bob);
    assert.match(second.stdout, /waiver approved \(2\/2 approval/);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
  });

  it('tier 1: an approval that expired before the quorum completed is withdrawn; its approver may approve again', async () => {
    const { stack, tenant, input, waiting, keys } = await taskAwaitingWaiver({ tier1: true });
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    const brief = await signedApproval(input, waiting.pendingWaiver!, keys.alice, {
      expiresAt: new Date(Date.now() + 10_000).toISOString(),
    });
    assert.equal((await handle.executeUpdate(approveWaiverUpdate, { args: [brief] })).approvals, 1);
    await new Promise((r) => setTimeout(r, 10_500));
    const second = await approve(`${tenant}/${input.taskId}`, 'bob', keys.bob);
    assert.match(second.stdout, /waiver pending \(1\/2 approval/, 'alice no longer counts');
    const after = await stack.client.status(input);
    assert.deepEqual(
      after.pendingWaiver?.approvals.map((a) => a.approver),
      ['bob'],
    );
    const again = await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    assert.match(again.stdout, /waiver approved \(2\/2 approval/, again.stderr);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
    const [row] = await stack.database.db
      .select()
      .from(waivers)
      .where(and(eq(waivers.tenantId, tenant), eq(waivers.taskId, input.taskId)));
    assert.ok(row.expiresAt > new Date(), 'the waiver was not granted already expired');
  });

  it('tier 1: an approval whose key was revoked since no longer counts when the quorum completes', async () => {
    const { stack, tenant, input, keys } = await taskAwaitingWaiver({ tier1: true });
    await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    const revoked = await arbiter(['approvers', 'revoke', 'alice', '--tenant', tenant], env());
    assert.equal(revoked.code, 0, revoked.stderr);
    await waitFor('the task to read the approvers again', async () => {
      const events =
        (await stack.client.temporal.workflow.getHandle(taskWorkflowId(input)).fetchHistory()).events ?? [];
      return activitiesRun(events).filter((a) => a === 'loadApproverKeys').length >= 2;
    });
    const second = await approve(`${tenant}/${input.taskId}`, 'bob', keys.bob);
    assert.match(second.stdout, /waiver pending \(1\/2 approval/, second.stderr);
    assert.equal((await stack.client.status(input)).subState, 'awaiting_waiver');
  });

  it('tier 1: a key revoked without telling the task is caught as the waiver is stored: FAILED, not WAIVED', async () => {
    const { stack, tenant, input, repo, keys } = await taskAwaitingWaiver({ tier1: true });
    await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice);
    assert.ok(await revokeApprover(stack.database.db, tenant, 'alice'));
    const second = await approve(`${tenant}/${input.taskId}`, 'bob', keys.bob);
    assert.match(second.stdout, /waiver approved \(2\/2 approval/, 'the task still held the old keys');
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'WaiverNotAuthorizedError', JSON.stringify(final.error));
    assert.match(
      final.error?.message ?? '',
      /alice: signed with .*not the registered key|alice: 'alice' is not an approver/,
    );
    assert.notEqual(final.verdict?.outcome, 'WAIVED');
    assert.equal(refExists(repo, `refs/heads/arbiter/${input.taskId}`), false, 'nothing delivered');
  });

  it('malformed input is refused by the validator and leaves nothing in history', async () => {
    const { stack, tenant, input, keys } = await taskAwaitingWaiver();
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    for (const bad of [
      { approver: 'alice', reasonCode: 'other', expiresInHours: 1 },
      { claim: { approver: 'alice' }, keyId: keys.alice.keyId, signature: 'x' },
      {},
    ]) {
      await assert.rejects(handle.executeUpdate(approveWaiverUpdate, { args: [bad as never] }));
    }
    // An insider's update of nearly 2 MB is refused by the server (SERVER_RUN_LIMITS: 1 MiB in flight;
    // the client retries that refusal a while first); one under 1 MiB reaches the validator, which
    // refuses it by size before parsing (a million-element list parsed in the workflow thread took seconds).
    const refusedWith = (items: number, refusal: RegExp) =>
      assert.rejects(
        handle.executeUpdate(approveWaiverUpdate, {
          args: [{ claim: { gates: Array(items).fill(0) }, keyId: 'x', signature: 'y' } as never],
        }),
        (err: Error) => {
          assert.match(String((err as { cause?: Error }).cause?.message), refusal);
          return true;
        },
      );
    await refusedWith(1_000_000, /limit on total payload size of in-flight updates/);
    const started = Date.now();
    await refusedWith(450_000, /at most 16384/);
    assert.ok(Date.now() - started < 15_000, `refused in ${Date.now() - started} ms`);
    const tooLong = await approve(`${tenant}/${input.taskId}`, 'alice', keys.alice, ['--expires-in', '10d']);
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /exceeds the policy maximum of 168 hours/);
    const cli = await arbiter(
      [
        'approve',
        `${tenant}/${input.taskId}`,
        '--approver',
        'alice',
        '--key',
        keys.alice.keyFile,
        '--reason-code',
        'because',
        '--expires-in',
        '1h',
      ],
      env(),
    );
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /reasonCode: Invalid enum value/);
    const history = await handle.fetchHistory();
    const updates = (history.events ?? []).filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes,
    );
    assert.equal(updates.length, 0, 'rejected updates are not in history');
    await reject(`${tenant}/${input.taskId}`, 'alice', keys.alice, 'cleanup');
  });

  it('fails when nobody decides within the policy window (durable timer)', async () => {
    const { stack, input } = await taskAwaitingWaiver({ windowHours: 0.001 });
    const final: TaskSnapshot = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'WaiverExpired');
  });

  it('works from the temporal CLI alone: update execute --name approveWaiver with a decision signed by arbiter approve --print', async () => {
    const { stack, tenant, input, keys } = await taskAwaitingWaiver();
    const cli = (args: string[]) => promisify(execFile)(temporalCliPath(), [...args, '--address', stack.address]);
    await waitFor('the waiting task in visibility', async () => {
      const listed = await cli([
        'workflow',
        'list',
        '--query',
        `ArbiterState="VERIFYING" AND TenantId="${tenant}"`,
        '--output',
        'json',
      ]);
      return listed.stdout.includes(taskWorkflowId(input));
    });
    const state = await cli([
      'workflow',
      'query',
      '--workflow-id',
      taskWorkflowId(input),
      '--name',
      'getState',
      '--output',
      'json',
    ]);
    assert.match(state.stdout, /"subState":\s*"awaiting_waiver"/);
    assert.match(state.stdout, /"approversRequired":\s*1/);
    const { stdout } = await promisify(execFile)(temporalCliPath(), [
      'workflow',
      'update',
      'execute',
      '--address',
      stack.address,
      '--workflow-id',
      taskWorkflowId(input),
      '--name',
      'approveWaiver',
      '--input',
      await printedApproval(`${tenant}/${input.taskId}`, 'bob', keys.bob),
    ]);
    assert.match(stdout, /approved/);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
  });
});
