/**
 * What a reader of a verdict (`arbiter verdict verify`, delivery) learns from its approvals: a
 * WAIVED verdict at CAWS_TIER_1_WAIVED needs two distinct approvers, counted as people, not
 * keys, so a verdict never proves less than the level it states.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { decisionSigningBytes, WAIVER_CLAIM_TYPE, type SignedDecision, type WaiverClaim } from '../../domain/approval';
import { verdictStatement } from '../../domain/dsse';
import type { RiskTier } from '../../domain/spec';
import type { VerdictPayload } from '../../domain/verdict';
import { statementProblems } from '../../domain/vsa-checks';
import { keyIdOf } from '../../host/signing';
import { SAMPLE_VERDICT_PAYLOAD, SAMPLE_VERIFIER } from '../helpers/verdicts';

const P = SAMPLE_VERDICT_PAYLOAD;

/** An approval of the sample verdict's run, tree and patch by `approver` with a fresh key. */
function approval(approver: string): SignedDecision {
  const { privateKey } = generateKeyPairSync('ed25519');
  const claim: WaiverClaim = {
    type: WAIVER_CLAIM_TYPE,
    tenantId: P.tenantId,
    taskId: P.taskId,
    runId: P.run.runId,
    specId: P.specId,
    treeId: P.diff.treeId,
    patchDigest: P.diff.digest,
    gates: ['budget'],
    delta: { maxFiles: 1, maxLoc: 0 },
    decision: 'approve',
    approver,
    reasonCode: 'other',
    expiresAt: '2099-01-01T00:00:00.000Z',
  };
  const signature = sign(null, decisionSigningBytes(claim), privateKey).toString('base64');
  return { claim, keyId: keyIdOf(createPublicKey(privateKey)), signature };
}

function waived(riskTier: RiskTier, approvals: SignedDecision[]) {
  const payload: VerdictPayload = { ...P, outcome: 'WAIVED', waivers: [`WV-${P.taskId}`], approvals };
  return statementProblems(
    verdictStatement({
      payload,
      riskTier,
      verifiedAt: '2025-01-02T03:04:05.678Z',
      repo: 'acme-app',
      verifier: SAMPLE_VERIFIER,
    }),
  );
}

describe('the approvals a WAIVED verdict carries must meet its tier', () => {
  it('control: a tier-3 WAIVED verdict with one valid approval is consistent', () => {
    assert.deepEqual(waived(3, [approval('alice')]), []);
  });

  it('a tier-1 WAIVED verdict with a single approval is refused (tier 1 needs two distinct keys)', () => {
    assert.notDeepEqual(waived(1, [approval('alice')]), [], 'CAWS_TIER_1_WAIVED accepted with one approver');
  });

  it('one approver name with two keys does not count as two approvers', () => {
    assert.notDeepEqual(waived(1, [approval('alice'), approval('alice')]), [], 'alice counted twice at tier 1');
  });
});
