/**
 * Whether a signed statement is a well-formed Arbiter verdict whose summary says what its
 * evidence says. A signature proves who wrote the bytes, not that the summary a consumer reads
 * (PASSED, the level, the resource) agrees with the gates underneath, nor that a waiver was
 * approved by anyone; this does, for every reader of a verdict: `arbiter verdict verify` and delivery.
 */
import { approvalProblems } from './approval-evidence';
import { requiredApprovers } from './policy';
import type { RiskTier } from './spec';
import { verdictEvidence, verdictSubjects, VERDICT_PREDICATE_TYPE, type VerdictStatement } from './dsse';
import { canonicalJson } from './canonical';
import { decideOutcome, type VerdictPayload } from './verdict';
import {
  ARBITER_VERIFIER_ID,
  DEFAULT_POLICY_URI,
  filePolicyDescriptor,
  parseResourceUri,
  verificationResult,
  type VerificationSummary,
} from './vsa';

const LEVEL = /^CAWS_TIER_[123](_WAIVED)?$/;

/** The fewest approvers the stated level's tier ever allows (a policy may demand more). */
function approversAtLevel(levels: unknown): number {
  const tier = Array.isArray(levels) ? /^CAWS_TIER_([123])/.exec(String(levels[0]))?.[1] : undefined;
  return tier ? requiredApprovers(Number(tier) as RiskTier) : 1;
}

function differs(field: string, actual: unknown, expected: unknown): string[] {
  return canonicalJson(actual ?? null) === canonicalJson(expected ?? null)
    ? []
    : [`${field} is ${canonicalJson(actual ?? null)}, expected ${canonicalJson(expected ?? null)}`];
}

function levelProblems(levels: unknown, outcome: string): string[] {
  if (outcome === 'FAIL') return differs('verifiedLevels', levels, ['FAILED']);
  const [level] = Array.isArray(levels) ? (levels as unknown[]) : [];
  const ok =
    Array.isArray(levels) &&
    levels.length === 1 &&
    typeof level === 'string' &&
    LEVEL.test(level) &&
    level.endsWith('_WAIVED') === (outcome === 'WAIVED');
  return ok ? [] : [`verifiedLevels ${JSON.stringify(levels)} do not state a ${outcome} at one CAWS tier`];
}

/** The outcome a verdict's own gates and waivers make: a PASS over a failed gate is no PASS. */
function outcomeOfGates(evidence: VerdictPayload): VerdictPayload['outcome'] {
  const decided = decideOutcome(Array.isArray(evidence.gates) ? evidence.gates : []);
  return decided === 'PASS' && (evidence.waivers?.length ?? 0) > 0 ? 'WAIVED' : decided;
}

/** Each way `statement` is not a consistent Arbiter verdict; empty when it is. */
export function statementProblems(statement: Partial<VerdictStatement> | undefined): string[] {
  if (statement === undefined) return ['no statement'];
  // Signed `null`, `0` or `""` is a trusted key's signature over no verdict at all.
  if (statement === null || typeof statement !== 'object' || Array.isArray(statement))
    return [`the statement ${JSON.stringify(statement)} is not a JSON object`];
  const evidence = verdictEvidence(statement);
  const problems = [
    ...differs('_type', statement._type, 'https://in-toto.io/Statement/v1'),
    ...differs('predicateType', statement.predicateType, VERDICT_PREDICATE_TYPE),
  ];
  if (!evidence) return [...problems, 'the predicate carries no Arbiter evidence'];
  const summary = statement.predicate!;
  problems.push(
    ...differs('subject', statement.subject, verdictSubjects(evidence)),
    ...differs('verifier.id', summary.verifier?.id, ARBITER_VERIFIER_ID),
    ...differs('outcome', evidence.outcome, outcomeOfGates(evidence)),
    ...differs('verificationResult', summary.verificationResult, verificationResult(evidence.outcome)),
    ...levelProblems(summary.verifiedLevels, evidence.outcome),
  );
  if (Number.isNaN(Date.parse(summary.timeVerified)))
    problems.push(`timeVerified '${summary.timeVerified}' is not a time`);
  const resource = parseResourceUri(summary.resourceUri);
  if (resource?.tenantId !== evidence.tenantId || resource.commit !== evidence.baseCommit)
    problems.push(
      `resourceUri '${summary.resourceUri}' is not a repository of ${evidence.tenantId} at ${evidence.baseCommit}`,
    );
  problems.push(
    ...policyProblems(summary, evidence, resource?.repo),
    ...approvalProblems(evidence, approversAtLevel(summary.verifiedLevels)),
  );
  return problems;
}

/** The summary's policy must be the evidence's: the built-in default, or its file in the same repository. */
function policyProblems(summary: VerificationSummary, evidence: VerdictPayload, repo: string | undefined): string[] {
  const policy = evidence.policy;
  if (policy?.file === null) return differs('policy.uri', summary.policy?.uri, DEFAULT_POLICY_URI);
  if (!policy || repo === undefined) return ['the policy cannot be matched to the evidence'];
  try {
    return differs(
      'policy',
      summary.policy,
      filePolicyDescriptor(evidence.tenantId, repo, { ...policy, file: policy.file }),
    );
  } catch (err) {
    return [`the evidence's policy is malformed: ${(err as Error).message}`];
  }
}
