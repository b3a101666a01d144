/**
 * A waiver is the approvers' signed word, and it must stay theirs until the change is delivered.
 * Found in review: a waiver revoked, or expired, after it was stored still gave a WAIVED verdict
 * and a delivery; `storeWaiver` stored approvers, reasons, an expiry and a budget detail nobody
 * signed (the verdict quoted "within budget"), past a rejection recorded for the same change, and
 * with approvals never authorised (so never counted against the approvers' rate limit).
 */
import assert from 'node:assert/strict';
import type { Delivery, IssuedVerdict } from '../../domain/activity-io';
import type { SignedDecision } from '../../domain/approval';
import type { DecisionTerms } from '../../client/approvals';
import type { GateResult } from '../../domain/task';
import { grantedTerms } from '../../domain/waiver';
import { getWaiver, revokeWaiver, upsertApprover } from '../../db/waivers';
import { taskWorkflowId } from '../../temporal-config';
import { defaultSigningKeyFile } from '../../workers/worker';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { arbiter, cliEnv } from '../helpers/cli';
import { testStack } from '../helpers/stack';
import {
  approvalOf,
  insiderRun,
  newWaiverId,
  policyCheck,
  refusedAs,
  storeWaiverOf,
  verdictOf,
  waivedDetailOf,
  type Run,
} from './insider-run';

/** Tier 3: one file, one line; the run's change (1 file, +1/-1) is a line over. */
const TIGHT = {
  waivers: { min_approvers_for_budget_raise: 1, max_expiry_days: 7 },
  risk_tiers: { '3': { max_files: 1, max_loc: 1, max_bytes: 1000 } },
};
const DELTA = { maxFiles: 0, maxLoc: 1 };

/** `gates` (checked before the waiver was stored) as the desk states them once `waiverId` passed the budget. */
function waivedGates(r: Run, gates: GateResult[], waiverId: string): GateResult[] {
  const detail = waivedDetailOf(r, waiverId, DELTA);
  return gates.map((g) => (g.name === 'budget' ? { ...g, status: 'pass' as const, detail } : g));
}

function deliver(r: Run, verdict: IssuedVerdict): Promise<Delivery> {
  return r.env.run(r.a.deliverChange, {
    ...r.ref,
    repo: r.repo,
    repoPath: r.repoPath,
    baseCommit: r.ws.baseCommit,
    treeId: r.diff.treeId,
    artifactId: r.diff.artifactId,
    patchDigest: r.diff.digest,
    specId: 'TEST-001',
    verdictDigest: verdict.digest,
    deliveredAt: new Date().toISOString(),
  });
}

/** `name`'s signed decision on `r`'s request for {@link DELTA}, with `terms`. */
async function decisionBy(r: Run, name: string, terms: Partial<DecisionTerms>) {
  const key = await registeredApprover(r.ref.tenantId, name);
  const { runId, diff } = r;
  const pending = {
    ...PENDING_WAIVER,
    runId,
    specId: 'TEST-001',
    treeId: diff.treeId,
    patchDigest: diff.digest,
    delta: DELTA,
  };
  return { signed: await signedApproval(r.ref, pending, key, terms), key };
}

/** `storeWaiver` as the desk calls it for `approvals`, with `lie` in place of what they signed. */
function storeAs(r: Run, waiverId: string, approvals: SignedDecision[], lie: Record<string, unknown> = {}) {
  return r.env.run(r.a.storeWaiver, {
    ...r.ref,
    waiverId,
    specId: 'TEST-001',
    gates: ['budget'],
    delta: DELTA,
    ...grantedTerms(approvals),
    approvals,
    approvers: approvals.map((a) => ({ approver: a.claim.approver, keyId: a.keyId, at: new Date().toISOString() })),
    budgetDetail: waivedDetailOf(r, waiverId, DELTA),
    riskTier: 3,
    ...lie,
  });
}

/** A run over its budget, its gates checked, and alice's waiver of it stored. */
async function waivedRun() {
  const r = await insiderRun(TIGHT);
  const { approval, keyId } = await approvalOf(r, DELTA);
  const waiverId = newWaiverId(r);
  const checked = await policyCheck(r);
  await storeWaiverOf(r, approval, keyId, waiverId);
  return { r, waiverId, checked, keyId };
}

describe('a waiver stands only as its approvers signed it, until delivery', function () {
  this.timeout(180_000);

  it('a waiver revoked after it was stored gives no verdict, and one revoked after the verdict no delivery', async () => {
    const { db } = testStack().database;
    const { r, waiverId, checked } = await waivedRun();
    const gates = waivedGates(r, checked, waiverId);
    const verdict: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(verdict.outcome, 'WAIVED');
    assert.ok(await revokeWaiver(db, r.ref.tenantId, waiverId));
    await assert.rejects(
      deliver(r, verdict),
      refusedAs('DeliveryNotCoveredError', new RegExp(`waiver ${waiverId} is revoked`)),
    );

    const again = await insiderRun(TIGHT);
    const second = await approvalOf(again, DELTA);
    const revoked = newWaiverId(again);
    const againChecked = await policyCheck(again);
    await storeWaiverOf(again, second.approval, second.keyId, revoked);
    assert.ok(await revokeWaiver(db, again.ref.tenantId, revoked));
    await assert.rejects(
      again.env.run(again.a.issueVerdict, verdictOf(again, waivedGates(again, againChecked, revoked))),
      refusedAs(
        'WaiverNoLongerStandsError',
        new RegExp(`the change's waivers no longer stand: waiver ${revoked} is revoked`),
      ),
    );
  });

  it('verify --require-pass takes a WAIVED verdict once it is delivered, and only while its waiver stands', async () => {
    const { db } = testStack().database;
    const r = await insiderRun(TIGHT);
    await r.env.run(r.a.recordTransition, {
      ...r.ref,
      workflowId: taskWorkflowId(r.ref),
      seq: 0,
      from: null,
      to: 'RECEIVED' as const,
      at: new Date().toISOString(),
    });
    const { approval, keyId } = await approvalOf(r, DELTA);
    const waiverId = newWaiverId(r);
    const checked = await policyCheck(r);
    await storeWaiverOf(r, approval, keyId, waiverId);
    const verdict: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, waivedGates(r, checked, waiverId)));
    assert.equal(verdict.outcome, 'WAIVED');
    const workerKey = `${defaultSigningKeyFile(testStack().home)}.pub`;
    const verify = () =>
      arbiter(
        ['verdict', 'verify', `${r.ref.tenantId}/${r.ref.taskId}`, '--key', workerKey, '--require-pass'],
        cliEnv(),
      );
    const undelivered = await verify();
    assert.equal(undelivered.code, 1, undelivered.stdout);
    assert.match(undelivered.stderr, /no delivery of this verdict is recorded/);
    await deliver(r, verdict);
    const delivered = await verify();
    assert.equal(delivered.code, 0, delivered.stderr);
    // Revoked after delivery: the change an application is about to merge rests on a waiver withdrawn (it passed, found in review).
    assert.ok(await revokeWaiver(db, r.ref.tenantId, waiverId));
    const revoked = await verify();
    assert.equal(revoked.code, 1, revoked.stdout);
    assert.match(revoked.stderr, new RegExp(`waiver ${waiverId} is revoked`));
    assert.doesNotMatch(revoked.stderr, /no delivery/);
  });

  it('a waiver that expired after it was stored gives no verdict', async () => {
    const r = await insiderRun(TIGHT);
    const { signed: approval, key: alice } = await decisionBy(r, 'alice', {
      expiresAt: new Date(Date.now() + 3_000).toISOString(),
    });
    const waiverId = newWaiverId(r);
    const checked = await policyCheck(r);
    await storeWaiverOf(r, approval, alice.keyId, waiverId);
    await new Promise((res) => setTimeout(res, 3_500));
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, waivedGates(r, checked, waiverId))),
      // The expiry sweep may have marked it expired first.
      refusedAs('WaiverNoLongerStandsError', new RegExp(`waiver ${waiverId} (expired at|is expired)`)),
    );
  });

  it('storeWaiver refuses approvers, reasons, expiry, spec, gates or budget words the approvals did not sign', async () => {
    const r = await insiderRun(TIGHT);
    const { approval, keyId } = await approvalOf(r, DELTA);
    await r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed: approval });
    const lies: [Record<string, unknown>, RegExp][] = [
      [
        { approvers: [{ approver: 'cto', keyId, at: new Date().toISOString() }] },
        /names approvers cto .*, not those who signed: alice/,
      ],
      [{ reasonCode: 'security_patch' }, /reason code, justification or expiry is not what its approvals signed/],
      [{ justification: 'approved by the CTO in the incident call' }, /not what its approvals signed/],
      [{ expiresAt: new Date(Date.now() + 6 * 86_400_000).toISOString() }, /not what its approvals signed/],
      [
        { budgetDetail: '1/1 files, 1/1 lines, 0/1000 bytes (within budget)' },
        /budget detail is not the stored measurement's/,
      ],
      // The row (`waivers list`, the CAWS table) said the approvers waived tests and protected paths for a spec they never saw.
      [
        { specId: 'PROD-PAYMENTS' },
        /names spec PROD-PAYMENTS and gates budget; alice signed spec TEST-001 and gates budget/,
      ],
      [
        { gates: ['budget', 'tests', 'protected'] },
        /names gates budget, tests, protected; a waiver covers budget alone/,
      ],
      [{ gates: [] }, /names gates none; a waiver covers budget alone/],
    ];
    for (const [lie, refusal] of lies)
      await assert.rejects(storeAs(r, newWaiverId(r), [approval], lie), refusedAs('WaiverNotAuthorizedError', refusal));
    // The same store as signed is taken, and a retry of it may not reword it either. The times of
    // the CAWS approvers list are the records', not the caller's.
    const waiverId = newWaiverId(r);
    await storeAs(r, waiverId, [approval], {
      approvers: [{ approver: 'alice', keyId, at: '2001-01-01T00:00:00.000Z' }],
    });
    const row = await getWaiver(testStack().database.db, r.ref.tenantId, waiverId);
    const approvedAt = (row?.approvers as Array<{ approved_at: string }>)[0].approved_at;
    assert.ok(
      Date.parse(approvedAt) > Date.now() - 600_000,
      `approved_at ${approvedAt} is when the approval was recorded`,
    );
    await assert.rejects(
      storeAs(r, waiverId, [approval], { budgetDetail: 'within budget' }),
      refusedAs('WaiverNotAuthorizedError', /budget detail is not the stored measurement's/),
    );
  });

  it('storeWaiver refuses a change whose waiver a recorded rejection refused, and an approval never authorised', async () => {
    const r = await insiderRun(TIGHT);
    const { approval } = await approvalOf(r, DELTA);
    await assert.rejects(
      storeAs(r, newWaiverId(r), [approval]),
      refusedAs('WaiverNotAuthorizedError', /the approval by alice was never authorised/),
    );
    const { signed: rejection } = await decisionBy(r, 'bob', {
      decision: 'reject',
      reason: 'too big',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed: rejection });
    await r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed: approval });
    await assert.rejects(
      storeAs(r, newWaiverId(r), [approval]),
      refusedAs('WaiverNotAuthorizedError', /bob rejected this change's waiver, and the rejection is recorded/),
    );
  });

  // Found in review: the standing check judged approvals at no tier, so an approver re-registered
  // for other tiers only still counted on a waiver stored before.
  it("a waiver whose approver may no longer decide at the task's tier gives no verdict", async () => {
    const { db } = testStack().database;
    const { r, waiverId, checked, keyId } = await waivedRun();
    await upsertApprover(db, { tenantId: r.ref.tenantId, name: 'alice', tiers: [1], keyId });
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, waivedGates(r, checked, waiverId))),
      refusedAs(
        'WaiverNoLongerStandsError',
        /the approval by alice no longer counts \('alice' may not decide waivers at risk tier 3\)/,
      ),
    );
  });

  // Found in review: a run of one's own stored its waiver under the id another task's desk would use, and that task's granted waiver failed.
  it("storeWaiver stores a task's waiver under its own task's id only", async () => {
    const r = await insiderRun(TIGHT);
    const { approval, keyId } = await approvalOf(r, DELTA);
    await policyCheck(r);
    await assert.rejects(
      storeWaiverOf(r, approval, keyId, 'WV-task-of-someone-else'),
      refusedAs(
        'WaiverNotAuthorizedError',
        new RegExp(`a task's waiver is stored as WV-${r.ref.taskId}, not "WV-task-of-someone-else"`),
      ),
    );
    await storeWaiverOf(r, approval, keyId, newWaiverId(r));
  });
});
