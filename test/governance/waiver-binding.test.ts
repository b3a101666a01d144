/**
 * A waiver a spec names in `waiver_ids` is bound to what it waives, attacked as a submitter who
 * controls the spec would: naming a waiver approved for another spec, one already used by the
 * task it was approved for, one covering another gate, or using a good one twice. Each is
 * refused with the reason in the budget gate's evidence, and the task fails its budget; the one
 * good use passes, so the refusals are the binding, not a broken waiver path. A policy without
 * a waivers section fails an overrun whatever waivers the spec names, as it does at the desk.
 */
import assert from 'node:assert/strict';
import { insertWaiver } from '../../db/waivers';
import { registeredApprover, signedApproval, signedWaiverRow, taskAwaitingWaiver } from '../helpers/approvers';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { explain, gateOf, policyYaml, runTask, writeByCommand } from './helpers';

const THREE_FILES = { 'src/a.js': 'a\n', 'src/b.js': 'b\n', 'src/c.js': 'c\n' };
const TIER_3_BUDGET = { '3': { max_files: 2, max_loc: 100 } };
// An overrun whose named waivers are refused goes to the desk; its window closes in 3.6 s.
const WAIVERS = { max_expiry_days: 7, decision_window_hours: 0.001 };
const TWO_FILE_BUDGET = policyYaml({ version: 1, risk_tiers: TIER_3_BUDGET, waivers: WAIVERS });
const NO_WAIVERS = policyYaml({ version: 1, risk_tiers: TIER_3_BUDGET });

/** A three-file change under a two-file budget, with a spec naming `waiverIds`. */
function overBudget(tenant: string, specId: string, waiverIds: string[], policy = TWO_FILE_BUDGET) {
  return runTask({
    tenant,
    files: { 'src/app.js': 'x\n', '.caws/policy.yaml': policy },
    spec: { id: specId, waiver_ids: waiverIds },
    steps: [writeByCommand(THREE_FILES)],
  });
}

/** A waiver approved ahead of time for `specId` by a registered approver, not used yet. */
async function preApproved(tenant: string, specId: string, gates = ['budget']): Promise<string> {
  const id = uniqueId('WV-PRE');
  const alice = await registeredApprover(tenant, uniqueId('alice'));
  const row = await signedWaiverRow(tenant, { id, specId, approvers: [alice] });
  await insertWaiver(testStack().database.db, { ...row, gates });
  return id;
}

describe('governance: a waiver applies only to its spec and gates, once', function () {
  this.timeout(120_000);

  it('a waiver the desk granted one task cannot be reused by another spec, nor again under its own', async () => {
    const first = await taskAwaitingWaiver();
    await first.stack.client.decideWaiver(
      first.input,
      await signedApproval(first.input, first.waiting.pendingWaiver!, first.keys.alice),
    );
    assert.equal((await first.stack.client.watch(first.input, undefined, 200)).verdict?.outcome, 'WAIVED');
    const waiverId = `WV-${first.input.taskId}`;
    const otherSpec = await overBudget(first.tenant, 'OTHER-9', [waiverId]);
    assert.equal(otherSpec.final.state, 'FAILED', explain(otherSpec.final));
    assert.match(
      gateOf(otherSpec.final, 'budget').detail,
      new RegExp(`${waiverId} was approved for spec TEST-001, not OTHER-9`),
    );
    const sameSpec = await overBudget(first.tenant, 'TEST-001', [waiverId]);
    assert.equal(sameSpec.final.state, 'FAILED', explain(sameSpec.final));
    assert.match(
      gateOf(sameSpec.final, 'budget').detail,
      new RegExp(`${waiverId} was already used by task ${first.input.taskId}`),
    );
  });

  it('a waiver approved for a spec raises its budget once; a second use and another gate are refused', async () => {
    const tenant = uniqueId('bind');
    const good = await preApproved(tenant, 'FEAT-7');
    const once = await overBudget(tenant, 'FEAT-7', [good]);
    assert.equal(once.final.state, 'COMPLETED', explain(once.final));
    assert.match(gateOf(once.final, 'budget').detail, new RegExp(`raised by waiver\\(s\\) ${good}`));
    const twice = await overBudget(tenant, 'FEAT-7', [good]);
    assert.equal(twice.final.state, 'FAILED', explain(twice.final));
    assert.match(
      gateOf(twice.final, 'budget').detail,
      new RegExp(`${good} was already used by task ${once.input.taskId}`),
    );
    const scopeOnly = await preApproved(tenant, 'FEAT-7', ['scope']);
    const wrongGate = await overBudget(tenant, 'FEAT-7', [scopeOnly, 'WV-NOPE']);
    assert.equal(wrongGate.final.state, 'FAILED', explain(wrongGate.final));
    const detail = gateOf(wrongGate.final, 'budget').detail;
    assert.match(detail, new RegExp(`${scopeOnly} covers scope, not the budget`));
    assert.match(detail, new RegExp(`WV-NOPE does not exist for tenant ${tenant}`));
  });

  it('a policy without a waivers section refuses every waiver a spec names, and the refusal spends none', async () => {
    const tenant = uniqueId('bind');
    const good = await preApproved(tenant, 'FEAT-9');
    const refused = await overBudget(tenant, 'FEAT-9', [good], NO_WAIVERS);
    assert.equal(refused.final.state, 'FAILED', explain(refused.final));
    assert.match(
      gateOf(refused.final, 'budget').detail,
      new RegExp(`${good}: the repository's policy has no waivers section`),
    );
    const allowed = await overBudget(tenant, 'FEAT-9', [good]);
    assert.equal(allowed.final.state, 'COMPLETED', explain(allowed.final));
  });

  it('a stored waiver applies only while its signed approvals stand: unsigned, re-keyed or for another delta is refused', async () => {
    const tenant = uniqueId('bind');
    const db = testStack().database.db;
    const bob = await registeredApprover(tenant, 'bob');
    const unsigned = {
      ...(await signedWaiverRow(tenant, { id: uniqueId('WV-U'), specId: 'FEAT-8', approvers: [bob] })),
      approvals: [],
    };
    const otherDelta = await signedWaiverRow(tenant, { id: uniqueId('WV-D'), specId: 'FEAT-8', approvers: [bob] });
    otherDelta.delta = { max_files: 500, max_loc: 100 };
    const reKeyed = await signedWaiverRow(tenant, { id: uniqueId('WV-K'), specId: 'FEAT-8', approvers: [bob] });
    for (const row of [unsigned, otherDelta, reKeyed]) await insertWaiver(db, row);
    await registeredApprover(tenant, 'bob'); // bob's key rotated: his earlier signature no longer counts
    const run = await overBudget(tenant, 'FEAT-8', [unsigned.id, otherDelta.id, reKeyed.id]);
    assert.equal(run.final.state, 'FAILED', explain(run.final));
    const detail = gateOf(run.final, 'budget').detail;
    assert.match(detail, new RegExp(`${unsigned.id}: it carries 0 valid signed approval\\(s\\); tier 3 needs 1`));
    assert.match(detail, new RegExp(`${otherDelta.id}: the approval by bob approved another delta`));
    assert.match(detail, new RegExp(`${reKeyed.id}: the approval by bob is not by a key registered now`));
  });
});
