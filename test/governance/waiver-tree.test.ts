/**
 * Attack (found in review): a waiver approved for one change of a run passes another. The spec
 * names the desk's waiver (`waiver_ids`); approvals for tree T1 had passed the budget of a later
 * tree T2 the run measured, and the worker signed WAIVED over T2 with approvals of T1, a verdict
 * its own delivery then refused. An approval made in the task passes only the change it names,
 * and the worker signs nothing its readers would refuse.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DiffSummary } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { taskWaiverId } from '../../domain/waiver';
import { specYaml, uniqueId } from '../helpers/fixtures';
import { approvalOf, insiderRun, policyCheck, refusedAs, storeWaiverOf, verdictOf, type Run } from './insider-run';

const TIGHT = {
  waivers: { min_approvers_for_budget_raise: 1, max_expiry_days: 7 },
  risk_tiers: { '3': { max_files: 1, max_loc: 1, max_bytes: 1000 } },
};
const DELTA = { maxFiles: 0, maxLoc: 1 };

/** `r`'s run with its budget waiver stored for its first tree, then another change measured. */
async function waivedThenChanged(spec?: string): Promise<{ r: Run; t2: Run; t1: string }> {
  const taskId = uniqueId('task');
  const waiverId = taskWaiverId(taskId);
  const r = await insiderRun(TIGHT, { spec: spec?.replace('WAIVER', waiverId), taskId });
  const first: GateResult[] = await policyCheck(r);
  assert.equal(first.find((g) => g.name === 'budget')?.status, 'fail');
  const { approval, keyId } = await approvalOf(r, DELTA);
  await storeWaiverOf(r, approval, keyId, waiverId);
  // Another change of the same size, never shown to an approver.
  writeFileSync(path.join(r.ws.workspacePath, 'test', 'check.js'), 'process.exit(1);\n');
  writeFileSync(path.join(r.ws.workspacePath, 'src', 'app.js'), 'module.exports = "other";\n');
  const diff: DiffSummary = await r.env.run(r.a.measureDiff, r.at);
  assert.notEqual(diff.treeId, r.diff.treeId);
  return { r, t2: { ...r, diff }, t1: r.diff.treeId };
}

describe('governance: a waiver approved in a task passes the change its approvals name only', function () {
  this.timeout(180_000);

  it("a spec naming the desk's waiver does not pass another tree's budget with it", async () => {
    const spec = specYaml({ scope: { in: ['src/', 'test/'], out: [] }, waiver_ids: ['WAIVER'] });
    const { t2, t1 } = await waivedThenChanged(spec);
    const budget = (await policyCheck(t2)).find((g) => g.name === 'budget');
    assert.equal(budget?.status, 'fail', budget?.detail);
    assert.match(budget?.detail ?? '', new RegExp(`is for tree ${t1} of run .*, not this change`));
  });

  it("a verdict over another tree is not signed with the waiver's approvals of the first", async () => {
    const { r, t2 } = await waivedThenChanged();
    const gates: GateResult[] = await policyCheck(t2);
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(t2, gates)),
      refusedAs('UnverifiableVerdictError', /the verdict would not verify: .*is for treeId/),
    );
  });
});
