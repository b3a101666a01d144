/**
 * The pure checks of a signed waiver decision, on their own: strict base64 (one spelling per
 * signature), RFC 8032 verification of the claim's exact bytes, and each reason a decision is
 * refused — with a genuine decision accepted under the same context, so every refusal is the
 * check and not a broken fixture.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  decisionProblem,
  decisionSigningBytes,
  signatureValid,
  WAIVER_CLAIM_TYPE,
  WaiverClaimSchema,
  type DecisionContext,
  type SignedDecision,
  type WaiverClaim,
} from '../../domain/approval';
import { approvalProblems } from '../../domain/approval-evidence';
import { base64Bytes } from '../../domain/base64';
import { waiverUseProblem, type StoredWaiverTerms } from '../../domain/waiver';
import { keyIdOf } from '../../host/signing';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const TERMS = {
  tenantId: 'acme',
  taskId: 'T-1',
  runId: 'run-1',
  specId: 'FEAT-1',
  treeId: 'a'.repeat(40),
  patchDigest: `sha256:${'b'.repeat(64)}`,
  gates: ['budget'],
  delta: { maxFiles: 1, maxLoc: 10 },
};

function keyPair(): { privateKey: KeyObject; keyId: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, keyId: keyIdOf(createPublicKey(privateKey)) };
}

function signed(key: { privateKey: KeyObject; keyId: string }, over: Partial<WaiverClaim> = {}): SignedDecision {
  const claim: WaiverClaim = {
    type: WAIVER_CLAIM_TYPE,
    ...TERMS,
    decision: 'approve',
    approver: 'alice',
    reasonCode: 'other',
    expiresAt: new Date(NOW + 3_600_000).toISOString(),
    ...over,
  };
  const sig = sign(null, decisionSigningBytes(claim), key.privateKey).toString('base64');
  return { claim, keyId: key.keyId, signature: sig };
}

describe('domain: signed waiver decisions', () => {
  const alice = keyPair();
  const ctx = (over: Partial<DecisionContext> = {}): DecisionContext => ({
    decision: 'approve',
    expected: TERMS,
    riskTier: 2,
    keyring: [{ approver: 'alice', keyId: alice.keyId, tiers: [1, 2, 3] }],
    prior: [],
    now: NOW,
    maxExpiryHours: 24,
    ...over,
  });

  it('base64 is strict: one spelling per byte string', () => {
    assert.deepEqual(base64Bytes('QQ=='), new Uint8Array([65]));
    for (const bad of ['QR==', 'Q===', 'QQ', 'Q Q=', 'QQ=\n']) assert.equal(base64Bytes(bad), undefined, bad);
  });

  it('accepts a genuine decision, and the signature covers every byte of the claim', () => {
    const good = signed(alice);
    assert.equal(signatureValid(good), true);
    assert.equal(decisionProblem(good, ctx()), undefined);
    assert.equal(signatureValid({ ...good, claim: { ...good.claim, justification: 'x' } }), false);
    assert.equal(signatureValid({ ...good, keyId: keyPair().keyId }), false);
  });

  it("refuses a NUL in an approver's words: stored as signed, jsonb could not hold it", () => {
    const { claim } = signed(alice);
    assert.equal(WaiverClaimSchema.safeParse(claim).success, true);
    for (const over of [
      { justification: 'fine\0' },
      { decision: 'reject' as const, reason: 'no\0' },
      { justification: 'half \ud800 a pair' },
    ]) {
      const parsed = WaiverClaimSchema.safeParse({ ...claim, ...over });
      assert.match(parsed.error?.issues.map((i) => i.message).join('; ') ?? 'accepted', /must not contain a NUL/);
    }
  });

  it('names why each bad decision is refused', () => {
    const mallory = keyPair();
    const cases: Array<[SignedDecision, Partial<DecisionContext>, RegExp]> = [
      [signed(alice), { decision: 'reject' }, /signed approve decision, sent as reject/],
      [signed(alice, { runId: 'run-0' }), {}, /the decision is for runId "run-0"/],
      [signed(alice, { delta: { maxFiles: 9, maxLoc: 10 } }), {}, /the decision is for delta/],
      [signed(mallory, { approver: 'mallory' }), {}, /'mallory' is not an approver/],
      [signed(mallory), {}, /which is not the registered key of 'alice'/],
      [signed(alice), { riskTier: 1, keyring: [{ approver: 'alice', keyId: alice.keyId, tiers: [3] }] }, /tier 1/],
      [signed(alice, { expiresAt: new Date(NOW - 1).toISOString() }), {}, /expired at/],
      [signed(alice, { expiresAt: new Date(NOW + 25 * 3_600_000).toISOString() }), {}, /policy maximum of 24 hours/],
      [signed(alice), { prior: [{ approver: 'alice', keyId: 'other' }] }, /'alice' has already approved/],
      [signed(alice), { prior: [{ approver: 'bob', keyId: alice.keyId }] }, /needs a distinct key/],
    ];
    for (const [decision, over, pattern] of cases) assert.match(decisionProblem(decision, ctx(over)) ?? '', pattern);
    const forged = { ...signed(alice), signature: signed(mallory).signature };
    assert.match(decisionProblem(forged, ctx()) ?? '', /the signature does not verify/);
  });

  it("a verdict's approvals must prove its waiver: present when WAIVED, valid, for its run, tree and patch, one per key", () => {
    const evidence = {
      tenantId: 'acme',
      taskId: 'T-1',
      specId: 'FEAT-1',
      outcome: 'WAIVED',
      run: { runId: 'run-1' },
      diff: { treeId: TERMS.treeId, digest: TERMS.patchDigest },
      approvals: [signed(alice)],
    };
    assert.deepEqual(approvalProblems(evidence), []);
    assert.match(
      approvalProblems({ ...evidence, approvals: [] }).join(),
      /WAIVED with 0 distinct approver\(s\); its tier needs at least 1/,
    );
    assert.match(approvalProblems({ ...evidence, run: { runId: 'run-2' } }).join(), /the verdict's runId is "run-2"/);
    assert.match(
      approvalProblems({ ...evidence, diff: { ...evidence.diff, treeId: 'c'.repeat(40) } }).join(),
      /treeId/,
    );
    const forged = { ...signed(alice), claim: { ...signed(alice).claim, reasonCode: 'security_patch' as const } };
    assert.match(approvalProblems({ ...evidence, approvals: [forged] }).join(), /the signature does not verify/);
    assert.match(approvalProblems({ ...evidence, approvals: [signed(alice), signed(alice)] }).join(), /approved twice/);
  });

  it('a waiver named by a spec must be active, unexpired, for this spec and the budget, and unused by another run', () => {
    const use = { specId: 'FEAT-1', taskId: 'T-2', runId: 'run-2' };
    const waiver: StoredWaiverTerms = {
      id: 'WV-1',
      status: 'active',
      expiresAt: new Date(NOW + 1000),
      specId: 'FEAT-1',
      gates: ['budget'],
      usedByTask: null,
      usedByRun: null,
    };
    const now = new Date(NOW);
    assert.equal(waiverUseProblem(waiver, use, now), undefined);
    assert.equal(waiverUseProblem({ ...waiver, usedByTask: 'T-2', usedByRun: 'run-2' }, use, now), undefined);
    const refusals: Array<[Partial<StoredWaiverTerms>, RegExp]> = [
      [{ status: 'revoked' }, /WV-1 is revoked/],
      [{ expiresAt: new Date(NOW) }, /expired/],
      [{ specId: null }, /not approved for any spec/],
      [{ specId: 'FEAT-9' }, /approved for spec FEAT-9, not FEAT-1/],
      [{ gates: ['scope'] }, /covers scope, not the budget/],
      [{ usedByTask: 'T-1', usedByRun: 'run-1' }, /already used by task T-1 \(run run-1\)/],
      [{ usedByTask: 'T-2', usedByRun: 'run-1' }, /already used by task T-2/],
    ];
    for (const [over, pattern] of refusals)
      assert.match(waiverUseProblem({ ...waiver, ...over }, use, now) ?? '', pattern);
  });
});
