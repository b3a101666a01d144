/**
 * Signed approvals, attacked as an insider with access to the Temporal namespace would: typing
 * a registered approver's name, replaying a real approval on another task or twice, binding it
 * to another run, tree or patch, sending it after it expired, signing with an unregistered or
 * revoked key, tampering with a signed claim. Each is refused by the update validator, with
 * nothing in history; the genuine approvals that follow still work, so the refusals are not
 * the task being broken. The delivered verdict names the approvers with their signatures.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { verify } from 'node:crypto';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { decisionSigningBytes, type SignedDecision } from '../../domain/approval';
import { verdicts, waiverDecisions } from '../../db/schema';
import { publicKeyFromKeyId } from '../../host/signing';
import {
  approverKey,
  assertRefused,
  signedApproval,
  taskAwaitingWaiver,
  updatesInHistory,
  type TestApprover,
} from '../helpers/approvers';
import { arbiter, cliEnv, temporalWorkflow } from '../helpers/cli';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';
import { defaultSigningKeyFile } from '../../workers/worker';
import { waitFor, waitForState } from '../helpers/wait';
import { taskWorkflowId } from '../../temporal-config';

const env = () => ({ ...cliEnv() });

/** An ssh-agent of our own holding `key`; its socket and a stop function. */
function sshAgentWith(key: TestApprover): { socket: string; stop: () => void } {
  const socket = path.join(tempDir('arbiter-agent-'), 'agent.sock');
  const out = execFileSync('ssh-agent', ['-a', socket, '-s'], { encoding: 'utf8' });
  const pid = /SSH_AGENT_PID=(\d+)/.exec(out)?.[1];
  execFileSync('ssh-add', ['-q', key.keyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
  return { socket, stop: () => pid && spawnSync('kill', [pid]) };
}

describe('governance: signed approvals cannot be forged, replayed or mis-bound', function () {
  this.timeout(120_000);

  it('a name typed without its key, a tampered claim and a forged signature are refused, with nothing in history', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver();
    const pending = waiting.pendingWaiver!;
    const mallory = approverKey('mallory');
    const asAlice = await signedApproval(input, pending, mallory, { approver: 'alice' });
    await assertRefused(input, asAlice, /signed with .*which is not the registered key of 'alice'/);
    await assertRefused(
      input,
      await signedApproval(input, pending, mallory),
      /'mallory' is not an approver for tenant/,
    );
    const genuine = await signedApproval(input, pending, keys.alice);
    const widened = { ...genuine, claim: { ...genuine.claim, delta: { maxFiles: 50, maxLoc: 5000 } } };
    await assertRefused(input, widened, /the decision is for delta .* but the pending waiver's delta is/);
    const otherSig = (await signedApproval(input, pending, keys.bob)).signature;
    await assertRefused(input, { ...genuine, signature: otherSig }, /the signature does not verify/);
    await assertRefused(input, { ...genuine, keyId: keys.bob.keyId }, /not the registered key of 'alice'/);
    await assertRefused(input, genuine, /this is a signed approve decision, sent as reject/, 'reject');
    assert.equal(await updatesInHistory(input), 0, 'no refused decision reached history');
    assert.equal((await stack.client.status(input)).subState, 'awaiting_waiver');
    await stack.client.decideWaiver(input, genuine); // the control: the genuine decision counts
    assert.equal((await stack.client.watch(input, undefined, 200)).verdict?.outcome, 'WAIVED');
  });

  it('an approval is bound to its task, run, tree and patch, expires, and counts once', async () => {
    const first = await taskAwaitingWaiver({ tier1: true });
    const second = await taskAwaitingWaiver();
    const pending = first.waiting.pendingWaiver!;
    const fromFirst = await signedApproval(first.input, pending, first.keys.alice);
    // Replayed on another task (same tenant, registered key, same delta): refused by the task it names.
    const reKeyed = { ...fromFirst, claim: { ...fromFirst.claim, tenantId: second.input.tenantId } };
    await assertRefused(second.input, fromFirst, /the decision is for tenantId|the decision is for taskId/);
    await assertRefused(second.input, reKeyed, /the decision is for taskId/);
    for (const [field, value] of [
      ['runId', 'another-run'],
      ['treeId', 'f'.repeat(40)],
      ['patchDigest', `sha256:${'e'.repeat(64)}`],
      ['specId', 'OTHER-1'],
    ] as const) {
      const misBound = await signedApproval(first.input, { ...pending, [field]: value }, first.keys.alice);
      await assertRefused(first.input, misBound, new RegExp(`the decision is for ${field}`));
    }
    const expired = await signedApproval(first.input, pending, first.keys.alice, {
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    });
    await assertRefused(first.input, expired, /the signed decision expired at/);
    assert.equal(await updatesInHistory(first.input), 0);
    // Tier 1: one key counts once; the same approval sent again, or re-signed, is refused.
    assert.equal((await first.stack.client.decideWaiver(first.input, fromFirst)).status, 'pending');
    await assertRefused(first.input, fromFirst, /'alice' has already approved this waiver/);
    const again = await signedApproval(first.input, pending, first.keys.alice);
    await assertRefused(first.input, again, /'alice' has already approved this waiver/);
    const bob = await signedApproval(first.input, pending, first.keys.bob);
    assert.equal((await first.stack.client.decideWaiver(first.input, bob)).status, 'approved');
    const final = await first.stack.client.watch(first.input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
    await second.stack.client.decideWaiver(
      second.input,
      await signedApproval(second.input, second.waiting.pendingWaiver!, second.keys.bob),
    );
  });

  it('`temporal workflow reset` makes a new run: an approval signed for the old run is refused by the new one', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver();
    const forOldRun = await signedApproval(input, waiting.pendingWaiver!, keys.alice);
    const workflowId = taskWorkflowId(input);
    await temporalWorkflow(['reset', '--workflow-id', workflowId, '--type', 'LastWorkflowTask', '--reason', 'insider']);
    const handle = stack.client.temporal.workflow.getHandle(workflowId);
    const newRun = (await handle.describe()).runId;
    assert.notEqual(newRun, waiting.pendingWaiver!.runId);
    const reopened = await waitForState(input, (s) => s.pendingWaiver?.runId === newRun);
    await assertRefused(
      input,
      forOldRun,
      new RegExp(`the decision is for runId "${forOldRun.claim.runId}", but the pending waiver's runId is "${newRun}"`),
    );
    assert.equal(await updatesInHistory(input), 0);
    await stack.client.decideWaiver(input, await signedApproval(input, reopened.pendingWaiver!, keys.alice));
    assert.equal((await stack.client.watch(input, undefined, 200)).verdict?.outcome, 'WAIVED');
  });

  it('the verdict carries the signed approvals, each checkable with the approver key alone', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver({ tier1: true });
    for (const key of [keys.alice, keys.bob])
      await stack.client.decideWaiver(input, await signedApproval(input, waiting.pendingWaiver!, key));
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
    const [row] = await stack.database.db.select().from(verdicts).where(eq(verdicts.digest, final.verdict!.digest));
    const approvals: SignedDecision[] = row.payload.approvals;
    assert.deepEqual(
      approvals.map((a) => [a.claim.approver, a.keyId]),
      [
        ['alice', keys.alice.keyId],
        ['bob', keys.bob.keyId],
      ],
    );
    for (const a of approvals) {
      assert.equal(a.claim.runId, row.runId);
      assert.equal(a.claim.treeId, row.payload.diff.treeId);
      assert.equal(a.claim.patchDigest, row.payload.diff.digest);
      const ok = verify(
        null,
        decisionSigningBytes(a.claim),
        publicKeyFromKeyId(a.keyId),
        Buffer.from(a.signature, 'base64'),
      );
      assert.equal(ok, true, `${a.claim.approver}'s signature verifies with node:crypto`);
    }
    const workerKey = `${defaultSigningKeyFile(stack.home)}.pub`;
    const verified = await arbiter(
      ['verdict', 'verify', `${input.tenantId}/${input.taskId}`, '--key', workerKey],
      env(),
    );
    assert.equal(verified.code, 0, verified.stderr);
    for (const key of [keys.alice, keys.bob])
      assert.ok(
        verified.stdout.includes(`waiver approved by ${key.name} with ${key.keyId}`) &&
          verified.stdout.includes("the registered key when it decided (the tenant's decision record)"),
        verified.stdout,
      );
    // An approval the decision record does not hold was never checked against a registered key.
    await stack.database.db
      .delete(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, input.tenantId), eq(waiverDecisions.approver, 'bob')));
    const unrecorded = await arbiter(
      ['verdict', 'verify', `${input.tenantId}/${input.taskId}`, '--key', workerKey],
      env(),
    );
    assert.equal(unrecorded.code, 1, unrecorded.stdout);
    assert.match(unrecorded.stderr, /the approval by bob with .* is not in the tenant's decision record/);
  });

  it("signs with the approver's ssh-agent when no key file is given; the private key never leaves the agent", async () => {
    const { input, keys, stack } = await taskAwaitingWaiver();
    const agent = sshAgentWith(keys.bob);
    try {
      const task = `${input.tenantId}/${input.taskId}`;
      const args = ['approve', task, '--approver', 'bob', '--reason-code', 'other', '--expires-in', '24h'];
      const noAgent = await arbiter(args, { ...env(), SSH_AUTH_SOCK: '' });
      assert.equal(noAgent.code, 2);
      assert.match(noAgent.stderr, /no key to sign with/);
      const res = await arbiter(args, { ...env(), SSH_AUTH_SOCK: agent.socket });
      assert.equal(res.code, 0, res.stderr);
      assert.ok(res.stdout.includes(keys.bob.keyId));
    } finally {
      agent.stop();
    }
    assert.equal((await stack.client.watch(input, undefined, 200)).verdict?.outcome, 'WAIVED');
  });

  it('a key registered after the waiver opened can decide; a revoked one is refused at once, with nothing in history', async () => {
    const { input, waiting, keys, stack } = await taskAwaitingWaiver();
    const tenant = input.tenantId;
    const revoked = await arbiter(['approvers', 'revoke', 'alice', '--tenant', tenant], env());
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /told 1 waiting task/);
    await keysReRead(input, 2);
    const byAlice = await signedApproval(input, waiting.pendingWaiver!, keys.alice);
    await assertRefused(input, byAlice, /'alice' is not an approver/);
    const dave = approverKey('dave');
    const sameKey = await arbiter(['approvers', 'add', 'eve', '--tenant', tenant, '--key', keys.bob.pubFile], env());
    assert.equal(sameKey.code, 2, 'one key cannot stand for two approvers');
    assert.match(sameKey.stderr, /already registered to another approver/);
    const added = await arbiter(['approvers', 'add', 'dave', '--tenant', tenant, '--key', dave.pubFile], env());
    assert.equal(added.code, 0, added.stderr);
    assert.equal(await updatesInHistory(input), 0);
    await keysReRead(input, 3);
    const byDave = await signedApproval(input, waiting.pendingWaiver!, dave);
    await stack.client.decideWaiver(input, byDave);
    assert.equal((await stack.client.watch(input, undefined, 200)).verdict?.outcome, 'WAIVED');
  });
});

/** How many times the task has read its approvers' keys (one when the waiver opened, one per change). */
async function keyringReads(task: { tenantId: string; taskId: string }): Promise<number> {
  const history = await testStack().client.temporal.workflow.getHandle(taskWorkflowId(task)).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Set(
    events
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadApproverKeys')
      .map((e) => String(e.eventId)),
  );
  return events.filter(
    (e) =>
      e.activityTaskCompletedEventAttributes &&
      scheduled.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)),
  ).length;
}

/** Waits until the task has re-read the keys after an `approvers` change (the change's signal is asynchronous). */
async function keysReRead(task: { tenantId: string; taskId: string }, reads: number): Promise<void> {
  await waitFor(`the task re-reads its approvers (${reads} reads)`, async () => (await keyringReads(task)) >= reads);
}
