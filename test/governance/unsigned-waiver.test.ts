/**
 * A waiver a spec names in `waiver_ids` applies only on the strength of signed approvals by keys
 * registered now, never of its row alone: anyone who can insert a waiver row (the worker's
 * database role may) cannot waive a budget with it, and a budget a waiver does raise makes the
 * verdict WAIVED with the approvals that granted it, never a plain PASS.
 */
import assert from 'node:assert/strict';
import { insertWaiver } from '../../db/waivers';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { explain, gateOf, policyYaml, runTask, verdictPayload, writeByCommand } from './helpers';

const THREE_FILES = { 'src/a.js': 'a\n', 'src/b.js': 'b\n', 'src/c.js': 'c\n' };
const TWO_FILE_BUDGET = policyYaml({
  version: 1,
  risk_tiers: { '3': { max_files: 2, max_loc: 100 } },
  // Refused, the overrun goes to the desk, whose window closes in 3.6 s.
  waivers: { max_expiry_days: 7, decision_window_hours: 0.001 },
});

describe('governance: a waiver named in a spec must be proven by signed approvals', function () {
  this.timeout(120_000);

  it('an unsigned waiver row does not raise the budget, and no raised budget is reported as a plain PASS', async () => {
    const tenant = uniqueId('unsigned');
    const id = uniqueId('WV-FORGED');
    await insertWaiver(testStack().database.db, {
      tenantId: tenant,
      id,
      specId: 'FEAT-1',
      gates: ['budget'],
      delta: { max_files: 1000, max_loc: 100000 },
      reasonCode: 'other',
      approvers: [{ handle: 'alice', approved_at: new Date().toISOString() }],
      approvals: [],
      status: 'active',
      expiresAt: new Date(Date.now() + 24 * 3_600_000),
    });
    const run = await runTask({
      tenant,
      files: { 'src/app.js': 'x\n', '.caws/policy.yaml': TWO_FILE_BUDGET },
      spec: { id: 'FEAT-1', waiver_ids: [id] },
      steps: [writeByCommand(THREE_FILES)],
    });
    const budget = gateOf(run.final, 'budget');
    if (run.final.state === 'COMPLETED') {
      const verdict = (await verdictPayload(tenant, run.input.taskId)) as unknown as {
        outcome: string;
        approvals: unknown[];
      };
      assert.fail(
        `an unsigned waiver raised the budget (${budget.detail}); the verdict says ${verdict.outcome} ` +
          `with ${verdict.approvals.length} approval(s)`,
      );
    }
    assert.equal(run.final.state, 'FAILED', explain(run.final));
    assert.match(budget.detail, new RegExp(`${id}.*(signed|approv)`));
  });
});
