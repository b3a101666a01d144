/**
 * A verdict as a SLSA Verification Summary Attestation (VSA v1): the predicate supply-chain
 * tools already read — who verified, when, which resource at which commit, against which
 * policy, PASSED or FAILED, at which level — with Arbiter's gate evidence alongside under an
 * extension field named by a URI, as the in-toto parsing rules ask of producers.
 *
 * WAIVED is PASSED (the policy that judged the change allows authorised waivers, and the
 * change is delivered), but its level is `CAWS_TIER_<n>_WAIVED`, never `CAWS_TIER_<n>`: a
 * consumer that requires `CAWS_TIER_2` refuses waived changes unless it names the waived level.
 */
import type { PolicyProvenance } from './activity-io';
import type { RiskTier } from './spec';
import type { VerdictOutcome } from './task';
import type { VerdictPayload } from './verdict';

/** The VSA predicate type (SLSA v1.0). */
export const VSA_PREDICATE_TYPE = 'https://slsa.dev/verification_summary/v1';
/** Who verifies: consumers accept only (signer, verifier) pairs they know. */
export const ARBITER_VERIFIER_ID = 'https://arbiter.dev/verifier';
/** The predicate's extension field holding Arbiter's verdict payload (the gate evidence). */
export const ARBITER_EVIDENCE_FIELD = 'https://arbiter.dev/attestation/verdict';
/** The policy a repository without a policy file is judged by: Arbiter's built-in default. */
export const DEFAULT_POLICY_URI = 'https://arbiter.dev/policy/default';

/** The VSA v1 predicate with Arbiter's evidence. */
export interface VerificationSummary {
  verifier: { id: string; version: Record<string, string> };
  timeVerified: string;
  resourceUri: string;
  policy: { uri: string; digest: Record<string, string> };
  verificationResult: 'PASSED' | 'FAILED';
  verifiedLevels: string[];
  [ARBITER_EVIDENCE_FIELD]: VerdictPayload;
}

/** What the verifier itself contributes: its version and the digest of its built-in default policy. */
export interface VerifierFacts {
  version: string;
  /** `sha256:<hex>` of the default policy's canonical JSON. */
  defaultPolicyDigest: string;
}

/** Everything a verification summary states beyond the payload. */
export interface SummaryFacts {
  payload: VerdictPayload;
  riskTier: RiskTier;
  /** ISO time from the workflow's deterministic clock, so a retry signs the same bytes. */
  verifiedAt: string;
  /** The repository as the task names it. */
  repo: string;
  verifier: VerifierFacts;
}

/**
 * The repository at a commit, as one URI: `arbiter://<tenant>/<repo>@<commit>`, each part
 * percent-encoded. The one place that names a resource, so it can change with how tasks name
 * repositories without touching its readers.
 */
export function resourceUri(tenantId: string, repo: string, commit: string): string {
  return `arbiter://${encodeURIComponent(tenantId)}/${encodeURIComponent(repo)}@${commit}`;
}

/** The parts of a URI `resourceUri` built; undefined for anything else. */
export function parseResourceUri(uri: unknown): { tenantId: string; repo: string; commit: string } | undefined {
  // encodeURIComponent never writes '/' or '@', so the parts cannot be confused.
  const m = typeof uri === 'string' ? /^arbiter:\/\/([^/@]+)\/([^/@]+)@([0-9a-f]+)$/.exec(uri) : null;
  if (!m) return undefined;
  try {
    const parts = { tenantId: decodeURIComponent(m[1]), repo: decodeURIComponent(m[2]), commit: m[3] };
    return resourceUri(parts.tenantId, parts.repo, parts.commit) === uri ? parts : undefined;
  } catch {
    return undefined; // malformed percent-encoding
  }
}

/** `{ sha256: hex }` for `sha256:<hex>`. */
export function digestSet(digest: string): Record<string, string> {
  const [algorithm, hex] = digest.split(':', 2);
  if (!hex) throw new Error(`'${digest}' is not an <algorithm>:<hex> digest`);
  return { [algorithm]: hex };
}

/** A policy file as a resource: the file in the repository at its trusted commit, and its digest. */
export function filePolicyDescriptor(
  tenantId: string,
  repo: string,
  policy: PolicyProvenance & { file: string },
): VerificationSummary['policy'] {
  return {
    uri: `${resourceUri(tenantId, repo, policy.commit)}#${encodeURI(policy.file)}`,
    digest: digestSet(policy.digest),
  };
}

/** The policy as a resource: the file at the trusted commit, or the built-in default. */
export function policyDescriptor(
  tenantId: string,
  repo: string,
  policy: PolicyProvenance,
  verifier: VerifierFacts,
): VerificationSummary['policy'] {
  if (policy.file === null) return { uri: DEFAULT_POLICY_URI, digest: digestSet(verifier.defaultPolicyDigest) };
  return filePolicyDescriptor(tenantId, repo, { ...policy, file: policy.file });
}

/** PASSED for PASS and WAIVED (the waiver is in the level and the evidence), FAILED for FAIL. */
export function verificationResult(outcome: VerdictOutcome): VerificationSummary['verificationResult'] {
  return outcome === 'FAIL' ? 'FAILED' : 'PASSED';
}

/** `CAWS_TIER_<n>`, `CAWS_TIER_<n>_WAIVED`, or `FAILED` as the VSA spec asks of a failed verification. */
export function verifiedLevels(outcome: VerdictOutcome, riskTier: RiskTier): string[] {
  if (outcome === 'FAIL') return ['FAILED'];
  return [outcome === 'WAIVED' ? `CAWS_TIER_${riskTier}_WAIVED` : `CAWS_TIER_${riskTier}`];
}

/** The predicate for `facts`; pure, so equal facts always give equal bytes. */
export function verificationSummary(facts: SummaryFacts): VerificationSummary {
  const { payload, verifier } = facts;
  return {
    verifier: { id: ARBITER_VERIFIER_ID, version: { arbiter: verifier.version } },
    timeVerified: facts.verifiedAt,
    resourceUri: resourceUri(payload.tenantId, facts.repo, payload.baseCommit),
    policy: policyDescriptor(payload.tenantId, facts.repo, payload.policy, verifier),
    verificationResult: verificationResult(payload.outcome),
    verifiedLevels: verifiedLevels(payload.outcome, facts.riskTier),
    [ARBITER_EVIDENCE_FIELD]: payload,
  };
}
