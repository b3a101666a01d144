/**
 * Attack: an insider's workflow of its own stating figures a verdict signs, or a waiver sizes,
 * other than what the change measured. Before, `issueVerdict` copied the change's files, lines and
 * bytes and each gate's detail from its input (a 50,000-line change could be signed as 3 lines),
 * and `storeWaiver` passed the change's budget whatever its overrun: a delta understated to
 * approvers, or a change over the byte budget, which no waiver raises.
 */
import assert from 'node:assert/strict';
import type { IssuedVerdict } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { and, eq } from 'drizzle-orm';
import { saveGateResults } from '../../db/gate-results';
import { gateResults } from '../../db/schema';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { gitIn } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { BASE_COUNTED, grantedTerms } from '../../domain/waiver';
import {
  approvalOf,
  insiderRun,
  laxCheck,
  newWaiverId,
  policyCheck,
  refusedAs,
  storeWaiverOf,
  verdictOf,
  waivedDetailOf,
} from './insider-run';

/** A tier-3 budget the insider run's change (one file, two lines, 17 bytes) overruns by a line. */
const TIGHT = (maxBytes: number) => ({
  waivers: { min_approvers_for_budget_raise: 1 },
  risk_tiers: { '3': { max_files: 1, max_loc: 1, max_bytes: maxBytes } },
});

describe('governance: the figures a verdict signs and a waiver sizes are the ones measured', function () {
  this.timeout(120_000);

  it("issueVerdict refuses a change's measurement, or a gate's detail, other than the stored ones", async () => {
    const r = await insiderRun({});
    const gates = await laxCheck(r);
    const understated = { ...r.diff, linesAdded: 0, linesDeleted: 0 };
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdictOf(r, gates), diff: understated }),
      refusedAs(
        'RecordMismatchError',
        /measured 1 files, \+1 -1 lines, \d+ bytes, 0 binary; the verdict states 1 files, \+0 -0 lines/,
      ),
    );
    const reworded: GateResult[] = gates.map((g) => (g.name === 'budget' ? { ...g, detail: '1/9999 files' } : g));
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, reworded)),
      refusedAs(
        'RecordMismatchError',
        /gate budget: stored with detail "1\/500 files, 2\/40000 lines.*", handed over with another/,
      ),
    );
    const honest: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(honest.outcome, 'PASS');
  });

  it('storeWaiver refuses a delta short of the measured overrun, and any change over the byte budget', async () => {
    const r = await insiderRun(TIGHT(1_000));
    const short = await approvalOf(r, { maxFiles: 0, maxLoc: 0 });
    await assert.rejects(
      storeWaiverOf(r, short.approval, short.keyId, newWaiverId(r)),
      refusedAs(
        'WaiverNotAuthorizedError',
        /the change is 0 files and 1 lines over its budget; the waiver raises it by 0 files and 0 lines/,
      ),
    );
    const enough = await approvalOf(r, { maxFiles: 0, maxLoc: 1 });
    await storeWaiverOf(r, enough.approval, enough.keyId, newWaiverId(r));

    const bytes = await insiderRun(TIGHT(10));
    const lavish = await approvalOf(bytes, { maxFiles: 5, maxLoc: 5 });
    await assert.rejects(
      storeWaiverOf(bytes, lavish.approval, lavish.keyId, newWaiverId(bytes)),
      refusedAs(
        'WaiverNotAuthorizedError',
        /the change adds \d+ bytes, over the byte budget of 10, which no waiver raises/,
      ),
    );
  });

  // Found in review: a budget that counts a base's changes off the trusted ref is not what the approvals sized.
  it("storeWaiver refuses a change whose stored budget counts its base's changes off the trusted ref", async () => {
    const r = await insiderRun(TIGHT(1_000));
    await policyCheck(r);
    const budgetRows = and(
      eq(gateResults.tenantId, r.ref.tenantId),
      eq(gateResults.taskId, r.ref.taskId),
      eq(gateResults.name, 'budget'),
    );
    const { db } = testStack().database;
    const [row] = await db.select({ detail: gateResults.detail }).from(gateResults).where(budgetRows);
    await db
      .update(gateResults)
      .set({ detail: `${row.detail}; ${BASE_COUNTED}: 1 of its files the base's` })
      .where(budgetRows);
    const enough = await approvalOf(r, { maxFiles: 0, maxLoc: 1 });
    await assert.rejects(
      storeWaiverOf(r, enough.approval, enough.keyId, newWaiverId(r)),
      refusedAs(
        'WaiverNotAuthorizedError',
        /counts the delivered branch, with its base's changes .*, which no waiver raises/,
      ),
    );
  });

  it('storeWaiver refuses approvals naming a change the task never stored', async () => {
    const r = await insiderRun(TIGHT(1_000));
    const alice = await registeredApprover(r.ref.tenantId, 'alice');
    const pending = { ...PENDING_WAIVER, runId: r.runId, specId: 'TEST-001', treeId: r.diff.treeId };
    const approval = await signedApproval(r.ref, pending, alice);
    await assert.rejects(
      storeWaiverOf(r, approval, alice.keyId, newWaiverId(r)),
      refusedAs('WaiverNotAuthorizedError', /the task stored no patch sha256:b{64} of tree/),
    );
  });

  it('issueVerdict takes a gate detail holding a NUL as its activity stored it', async () => {
    const r = await insiderRun({});
    const gates: GateResult[] = await r.env.run(r.a.checkBudgetAndScope, {
      ...r.at,
      treeId: r.diff.treeId,
      spec: r.validated.specRef!,
      policy: DEFAULT_REPO_POLICY,
      trustedCommit: r.ws.baseCommit,
      specWarnings: ['a warning quoting a \0 from the spec'],
    });
    assert.match(gates.find((g) => g.name === 'spec')?.detail ?? '', /\0/);
    const signed: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(signed.outcome, 'PASS');
  });

  it("storeWaiver refuses approvals of different patches, and passes only the budget measured from the approved patch's base", async () => {
    const r = await insiderRun({ ...TIGHT(1_000), waivers: { min_approvers_for_budget_raise: 2 } });
    const delta = { maxFiles: 0, maxLoc: 1 };
    const { approval } = await approvalOf(r, delta);
    const { approval: other } = await approvalOf(r, delta, {
      approver: 'bob',
      patchDigest: PENDING_WAIVER.patchDigest,
    });
    const store = async (approvals: (typeof approval)[]) => {
      const waiverId = newWaiverId(r);
      for (const signed of approvals)
        await r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed }).catch(() => undefined);
      return r.env.run(r.a.storeWaiver, {
        ...r.ref,
        waiverId,
        specId: 'TEST-001',
        gates: ['budget'],
        delta,
        ...grantedTerms(approvals),
        approvals,
        approvers: approvals.map((a) => ({ approver: a.claim.approver, keyId: a.keyId, at: new Date().toISOString() })),
        budgetDetail: waivedDetailOf(r, waiverId, delta),
        riskTier: 3,
      });
    };
    await assert.rejects(
      store([approval, other]),
      refusedAs('WaiverNotAuthorizedError', /the approval by bob is for .* patch sha256:b{64}, not this run's request/),
    );
    // The same tree measured from the commit before the base (the policy file's lines over the
    // budget too): judged there only by a workspace built from that commit, as one rebuilt after
    // its host was lost, its ref moved, would be.
    const parent = gitIn(r.repoPath, 'rev-parse', 'HEAD~1').trim();
    const fromParent = { ...r.at, baseCommit: parent, treeId: r.diff.treeId };
    const judging = { spec: r.validated.specRef!, policy: DEFAULT_REPO_POLICY, trustedCommit: r.ws.baseCommit };
    await assert.rejects(
      r.env.run(r.a.checkBudgetAndScope, { ...fromParent, ...judging }),
      refusedAs('WorkspaceBaseMismatchError', new RegExp(`built from ${r.ws.baseCommit}, not from ${parent}`)),
    );
    const wider: GateResult = {
      name: 'budget',
      kind: 'budget',
      source: 'arbiter',
      status: 'fail',
      detail: '3/1 files',
    };
    await saveGateResults(testStack().database.db, { ...fromParent, runId: r.runId, attempt: 1 }, [wider]);
    await laxCheck(r);
    const { approval: bobs } = await approvalOf(r, delta, { approver: 'bob' });
    await store([approval, bobs]);
    const budgets = await testStack()
      .database.db.select({ baseCommit: gateResults.baseCommit, status: gateResults.status })
      .from(gateResults)
      .where(and(eq(gateResults.taskId, r.ref.taskId), eq(gateResults.name, 'budget')));
    assert.deepEqual(budgets.map((b) => `${b.baseCommit === parent ? 'wider' : 'approved'} ${b.status}`).sort(), [
      'approved pass',
      'wider fail',
    ]);
  });
});
