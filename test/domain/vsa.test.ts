/**
 * The verdict as a SLSA verification summary: the fields a consumer reads (result, level,
 * resource, policy) follow from the evidence, the time is the one given (so retries sign the
 * same bytes), and a statement whose summary disagrees with its evidence is named as such.
 */
import assert from 'node:assert/strict';
import { verdictStatement, type VerdictStatement } from '../../domain/dsse';
import { canonicalJson } from '../../domain/canonical';
import type { VerdictPayload } from '../../domain/verdict';
import {
  ARBITER_EVIDENCE_FIELD,
  DEFAULT_POLICY_URI,
  parseResourceUri,
  resourceUri,
  VSA_PREDICATE_TYPE,
} from '../../domain/vsa';
import { statementProblems } from '../../domain/vsa-checks';
import { SAMPLE_VERDICT_PAYLOAD, SAMPLE_VERIFIER, sampleStatement } from '../helpers/verdicts';

const withOutcome = (outcome: VerdictPayload['outcome']): VerdictPayload => ({ ...SAMPLE_VERDICT_PAYLOAD, outcome });
const copy = (s: VerdictStatement): VerdictStatement => JSON.parse(JSON.stringify(s)) as VerdictStatement;

describe('verdicts as SLSA verification summaries', () => {
  it('states the verifier, the given time, the repository at the base commit and the evidence', () => {
    const s = sampleStatement();
    assert.equal(s.predicateType, VSA_PREDICATE_TYPE);
    assert.deepEqual(s.predicate.verifier, { id: 'https://arbiter.dev/verifier', version: { arbiter: '0.0.0-test' } });
    assert.equal(s.predicate.timeVerified, '2025-01-02T03:04:05.678Z');
    assert.equal(s.predicate.resourceUri, `arbiter://acme/acme-app@${'b'.repeat(40)}`);
    assert.deepEqual(s.predicate[ARBITER_EVIDENCE_FIELD], SAMPLE_VERDICT_PAYLOAD);
    assert.deepEqual(statementProblems(s), []);
  });

  it('encodes every part of the resource URI, so no repository name can forge another', () => {
    assert.equal(
      resourceUri('t', '/srv/repos/a b@c', 'f'.repeat(40)),
      `arbiter://t/%2Fsrv%2Frepos%2Fa%20b%40c@${'f'.repeat(40)}`,
    );
    assert.notEqual(resourceUri('a', 'b/c', 'x'), resourceUri('a/b', 'c', 'x'));
    const parts = { tenantId: 't@1', repo: '/srv/a b@c', commit: 'f'.repeat(40) };
    assert.deepEqual(parseResourceUri(resourceUri(parts.tenantId, parts.repo, parts.commit)), parts);
    for (const other of [
      'arbiter://t/%2fsrv@ff',
      'arbiter://t/a/b@ff',
      'https://t/a@ff',
      'arbiter://t/%E0%A4%A@ff',
      42,
    ])
      assert.equal(parseResourceUri(other), undefined, `${String(other)} is not a resource URI Arbiter writes`);
  });

  it('PASS is PASSED at CAWS_TIER_n; WAIVED is PASSED at CAWS_TIER_n_WAIVED; FAIL is FAILED', () => {
    const at = (outcome: VerdictPayload['outcome'], riskTier: 1 | 2 | 3) =>
      verdictStatement({
        payload: withOutcome(outcome),
        riskTier,
        verifiedAt: '2025-01-02T03:04:05.678Z',
        repo: 'r',
        verifier: SAMPLE_VERIFIER,
      }).predicate;
    assert.deepEqual([at('PASS', 1).verificationResult, at('PASS', 1).verifiedLevels], ['PASSED', ['CAWS_TIER_1']]);
    assert.deepEqual(
      [at('WAIVED', 2).verificationResult, at('WAIVED', 2).verifiedLevels],
      ['PASSED', ['CAWS_TIER_2_WAIVED']],
    );
    assert.deepEqual([at('FAIL', 3).verificationResult, at('FAIL', 3).verifiedLevels], ['FAILED', ['FAILED']]);
    for (const o of ['PASS', 'WAIVED', 'FAIL'] as const)
      assert.ok(
        at(o, 2).verifiedLevels.every((l) => !l.startsWith('SLSA_')),
        'custom levels never claim SLSA_',
      );
  });

  it("names a policy file at its trusted commit with its digest, and the built-in default by Arbiter's digest", () => {
    const policy = {
      source: 'current' as const,
      digest: `sha256:${'9'.repeat(64)}`,
      file: '.caws/policy.yaml',
      ref: 'refs/heads/main',
      commit: 'e'.repeat(40),
    };
    const fromFile = sampleStatement({ ...SAMPLE_VERDICT_PAYLOAD, policy }).predicate.policy;
    assert.deepEqual(fromFile, {
      uri: `arbiter://acme/acme-app@${'e'.repeat(40)}#.caws/policy.yaml`,
      digest: { sha256: '9'.repeat(64) },
    });
    assert.deepEqual(sampleStatement().predicate.policy, {
      uri: DEFAULT_POLICY_URI,
      digest: { sha256: 'f'.repeat(64) },
    });
  });

  it('is the same bytes for the same facts: the time comes in, nothing is read from a clock', () => {
    assert.equal(canonicalJson(sampleStatement()), canonicalJson(sampleStatement()));
  });

  it('names each way a summary disagrees with its evidence', () => {
    const cases: Array<[string, (s: VerdictStatement) => void, RegExp]> = [
      [
        'result',
        (s) => (s.predicate.verificationResult = 'FAILED'),
        /verificationResult is "FAILED", expected "PASSED"/,
      ],
      ['level', (s) => (s.predicate.verifiedLevels = ['CAWS_TIER_2_WAIVED']), /do not state a PASS at one CAWS tier/],
      ['two levels', (s) => (s.predicate.verifiedLevels = ['CAWS_TIER_1', 'CAWS_TIER_3']), /at one CAWS tier/],
      ['SLSA level', (s) => (s.predicate.verifiedLevels = ['SLSA_BUILD_LEVEL_3']), /at one CAWS tier/],
      ['resource', (s) => (s.predicate.resourceUri = `arbiter://other/acme-app@${'b'.repeat(40)}`), /resourceUri/],
      ['policy', (s) => (s.predicate.policy.uri = 'https://example.com/lenient'), /policy.uri is/],
      ['subject', (s) => (s.subject[1].digest.gitCommit = 'a'.repeat(40)), /subject is/],
      [
        'evidence outcome',
        (s) => (s.predicate[ARBITER_EVIDENCE_FIELD].outcome = 'FAIL'),
        /verificationResult is "PASSED", expected "FAILED"/,
      ],
      [
        'a PASS over a failed gate',
        (s) => (s.predicate[ARBITER_EVIDENCE_FIELD].gates[0].status = 'fail'),
        /^outcome is "PASS", expected "FAIL"$/m,
      ],
      [
        'a PASS naming a waiver',
        (s) => (s.predicate[ARBITER_EVIDENCE_FIELD].waivers = ['WV-0001']),
        /^outcome is "PASS", expected "WAIVED"$/m,
      ],
      ['verifier', (s) => (s.predicate.verifier.id = 'https://example.com/v'), /verifier.id/],
      ['time', (s) => (s.predicate.timeVerified = 'yesterday'), /timeVerified 'yesterday' is not a time/],
      [
        'type',
        (s) => ((s as { predicateType: string }).predicateType = 'https://arbiter.dev/attestation/verdict/v1'),
        /predicateType/,
      ],
    ];
    for (const [what, edit, expected] of cases) {
      const s = copy(sampleStatement());
      edit(s);
      assert.match(statementProblems(s).join('\n'), expected, what);
    }
    const policy = { source: 'current' as const, digest: `sha256:${'9'.repeat(64)}`, file: '.caws/policy.yaml' };
    const withFile = sampleStatement({
      ...SAMPLE_VERDICT_PAYLOAD,
      policy: { ...SAMPLE_VERDICT_PAYLOAD.policy, ...policy },
    });
    assert.deepEqual(statementProblems(withFile), []);
    for (const [what, edit] of [
      [
        'another repository',
        (s: VerdictStatement) => (s.predicate.policy.uri = s.predicate.policy.uri.replace('acme-app', 'lax')),
      ],
      ['another digest', (s: VerdictStatement) => (s.predicate.policy.digest = { sha256: '0'.repeat(64) })],
      ['the default', (s: VerdictStatement) => (s.predicate.policy.uri = DEFAULT_POLICY_URI)],
    ] as const) {
      const s = copy(withFile);
      edit(s);
      assert.match(statementProblems(s).join('\n'), /^policy is /m, `a policy file named by ${what}`);
    }
    const bare = copy(sampleStatement());
    delete (bare.predicate as Partial<VerdictStatement['predicate']>)[ARBITER_EVIDENCE_FIELD];
    assert.deepEqual(statementProblems(bare), ['the predicate carries no Arbiter evidence']);
  });
});
