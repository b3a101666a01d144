/**
 * The shapes of a signed verdict: an in-toto Statement v1 whose predicate is a SLSA
 * Verification Summary (what was verified, about which patch and base commit) inside a DSSE
 * envelope. Pure: the pre-authentication encoding that is signed is computed here, the
 * signature itself by the activity that holds the key.
 */
import type { VerdictPayload } from './verdict';
import { ARBITER_EVIDENCE_FIELD, verificationSummary, VSA_PREDICATE_TYPE } from './vsa';
import type { SummaryFacts, VerificationSummary } from './vsa';

/** DSSE payload type of in-toto statements. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Predicate type of a verdict: the SLSA Verification Summary Attestation v1. */
export const VERDICT_PREDICATE_TYPE = VSA_PREDICATE_TYPE;

/** in-toto Statement v1 with the verdict's verification summary as the predicate. */
export interface VerdictStatement {
  _type: 'https://in-toto.io/Statement/v1';
  subject: Array<{ name: string; digest: Record<string, string> }>;
  predicateType: typeof VERDICT_PREDICATE_TYPE;
  predicate: VerificationSummary;
}

/** A DSSE envelope. */
export interface DsseEnvelope {
  payloadType: string;
  /** base64 of the exact statement bytes. */
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** The subjects a verdict is about: the patch (by digest) and the base commit. */
export function verdictSubjects(payload: VerdictPayload): VerdictStatement['subject'] {
  return [
    {
      name: `patch:${payload.tenantId}/${payload.taskId}`,
      digest: { sha256: payload.diff.digest.replace(/^sha256:/, '') },
    },
    { name: 'base-commit', digest: { gitCommit: payload.baseCommit } },
  ];
}

/** The statement for a verdict. */
export function verdictStatement(facts: SummaryFacts): VerdictStatement {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: verdictSubjects(facts.payload),
    predicateType: VERDICT_PREDICATE_TYPE,
    predicate: verificationSummary(facts),
  };
}

/** Arbiter's gate evidence in a statement, or undefined when it carries none. */
export function verdictEvidence(statement: Partial<VerdictStatement> | undefined): VerdictPayload | undefined {
  return statement?.predicate?.[ARBITER_EVIDENCE_FIELD];
}
