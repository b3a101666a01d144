/**
 * Waivers over Temporal on the real stack: a budget overrun pauses the task in VERIFYING
 * (awaiting_waiver) until the right people approve it (WAIVED, delivered) or reject it
 * (FAILED), or the policy's window passes; malformed input never reaches history; unknown
 * approvers are refused; tier 1 needs two distinct approvers; the `temporal` CLI works too.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { stringify } from 'yaml';
import { temporalCliPath } from '../../client/paths';
import { approvers, waivers } from '../../db/schema';
import type { TaskSnapshot } from '../../domain/task';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate } from '../../workflows/definitions';
import { arbiter } from '../helpers/cli';
import { addScriptedAgent, gitIn, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor, waitForState } from '../helpers/wait';

const THREE_FILES = [1, 2, 3].map((i) => ({ op: 'write' as const, path: `src/f${i}.js`, content: `${i}\n` }));
const TIER1_SPEC = { risk_tier: 1, contracts: [{ name: 'feature-api', type: 'api' }] };

async function awaitingWaiver(options: { tier1?: boolean; windowHours?: number } = {}) {
  const stack = testStack();
  const tenant = uniqueId('tenant');
  await addScriptedAgent(tenant, THREE_FILES);
  for (const name of ['alice', 'bob'])
    await stack.database.db.insert(approvers).values({ tenantId: tenant, name, tiers: [1, 2, 3] });
  await stack.database.db.insert(approvers).values({ tenantId: tenant, name: 'tier3-only', tiers: [3] });
  const budget = { max_files: 2, max_loc: 100 };
  const policy = {
    version: 1,
    risk_tiers: { '1': budget, '3': budget },
    waivers: { decision_window_hours: options.windowHours ?? 1, max_expiry_days: 7 },
  };
  const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': stringify(policy) });
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(options.tier1 ? TIER1_SPEC : {}),
    repo: await registerRepo(tenant, repo),
  };
  await stack.client.submit(input);
  const waiting = await waitForState(input, (s) => s.subState === 'awaiting_waiver');
  return { stack, tenant, repo, input, waiting };
}

const env = () => ({ TEMPORAL_ADDRESS: testStack().address, DATABASE_URL: testStack().databaseUrl });
const approve = (task: string, approver: string) =>
  arbiter(
    ['approve', task, '--approver', approver, '--reason-code', 'architectural_refactor', '--expires-in', '72h'],
    env(),
  );

describe('waivers over Temporal', function () {
  this.timeout(90_000);

  it('pauses for a waiver, and an authorised approval makes the verdict WAIVED and delivers', async () => {
    const { stack, tenant, repo, input, waiting } = await awaitingWaiver();
    assert.equal(waiting.state, 'VERIFYING');
    assert.deepEqual(waiting.pendingWaiver?.delta, { maxFiles: 1, maxLoc: 0 });
    assert.equal(waiting.pendingWaiver?.approversRequired, 1);
    const status = JSON.parse((await arbiter(['status', `${tenant}/${input.taskId}`, '--json'], env())).stdout);
    assert.equal(status.pendingWaiver.gates[0], 'budget');
    const res = await approve(`${tenant}/${input.taskId}`, 'alice');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /waiver approved \(1\/1 approval/);
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
      (row.approvers as Array<{ handle: string }>).map((a) => a.handle),
      ['alice'],
    );
    const verified = await arbiter(['verdict', 'verify', `${tenant}/${input.taskId}`, '--json'], {
      ...env(),
      ARBITER_HOME: stack.home,
    });
    assert.equal(JSON.parse(verified.stdout).outcome, 'WAIVED');
  });

  it('a rejection fails the task and delivers nothing', async () => {
    const { stack, tenant, repo, input } = await awaitingWaiver();
    const res = await arbiter(
      ['reject', `${tenant}/${input.taskId}`, '--approver', 'bob', '--reason', 'too big for one change'],
      env(),
    );
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
    const { stack, tenant, input } = await awaitingWaiver({ tier1: true });
    const stranger = await approve(`${tenant}/${input.taskId}`, 'mallory');
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /'mallory' is not an approver for tenant/);
    const lowTier = await approve(`${tenant}/${input.taskId}`, 'tier3-only');
    assert.equal(lowTier.code, 1);
    assert.match(lowTier.stderr, /may not decide waivers at risk tier 1/);
    const s = await stack.client.status(input);
    assert.equal(s.subState, 'awaiting_waiver');
    assert.deepEqual(s.pendingWaiver?.approvals, []);
    await arbiter(['reject', `${tenant}/${input.taskId}`, '--approver', 'alice', '--reason', 'cleanup'], env());
  });

  it('tier 1 needs two distinct approvers', async () => {
    const { stack, tenant, input, waiting } = await awaitingWaiver({ tier1: true });
    assert.equal(waiting.pendingWaiver?.approversRequired, 2);
    const first = await approve(`${tenant}/${input.taskId}`, 'alice');
    assert.match(first.stdout, /waiver pending \(1\/2 approval/);
    const again = await approve(`${tenant}/${input.taskId}`, 'alice');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /'alice' has already approved this waiver/);
    assert.equal((await stack.client.status(input)).subState, 'awaiting_waiver');
    const second = await approve(`${tenant}/${input.taskId}`, 'bob');
    assert.match(second.stdout, /waiver approved \(2\/2 approval/);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
  });

  it('malformed input is refused by the validator and leaves nothing in history', async () => {
    const { stack, tenant, input } = await awaitingWaiver();
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));
    for (const bad of [
      { approver: 'alice', reasonCode: 'because', expiresInHours: 1 },
      { approver: 'alice', reasonCode: 'other', expiresInHours: 99999 },
      { approver: 'alice' },
    ]) {
      await assert.rejects(handle.executeUpdate(approveWaiverUpdate, { args: [bad as never] }));
    }
    const tooLong = await arbiter(
      ['approve', `${tenant}/${input.taskId}`, '--approver', 'alice', '--reason-code', 'other', '--expires-in', '10d'],
      env(),
    );
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /exceeds the policy maximum of 168 hours/);
    const cli = await arbiter(
      ['approve', `${tenant}/${input.taskId}`, '--approver', 'alice', '--reason-code', 'because', '--expires-in', '1h'],
      env(),
    );
    assert.equal(cli.code, 2);
    assert.match(cli.stderr, /reasonCode: Invalid enum value/);
    const history = await handle.fetchHistory();
    const updates = (history.events ?? []).filter(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes,
    );
    assert.equal(updates.length, 0, 'rejected updates are not in history');
    await arbiter(['reject', `${tenant}/${input.taskId}`, '--approver', 'alice', '--reason', 'cleanup'], env());
  });

  it('fails when nobody decides within the policy window (durable timer)', async () => {
    const { stack, input } = await awaitingWaiver({ windowHours: 0.001 });
    const final: TaskSnapshot = await stack.client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'WaiverExpired');
  });

  it('works from the temporal CLI alone: update execute --name approveWaiver', async () => {
    const { stack, tenant, input } = await awaitingWaiver();
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
      JSON.stringify({ approver: 'bob', reasonCode: 'legacy_integration', expiresInHours: 48 }),
    ]);
    assert.match(stdout, /approved/);
    const final = await stack.client.watch(input, undefined, 200);
    assert.equal(final.verdict?.outcome, 'WAIVED');
  });
});
