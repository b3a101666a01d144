/**
 * The shapes of a signed verdict: an in-toto Statement v1 (what was verified, about which
 * patch and base commit) inside a DSSE envelope. Pure: the pre-authentication encoding that is
 * signed is computed here, the signature itself by the activity that holds the key.
 */
import type { VerdictPayload } from './verdict';

/** DSSE payload type of in-toto statements. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Predicate type of Arbiter's verification summary. */
export const VERDICT_PREDICATE_TYPE = 'https://arbiter.dev/attestation/verdict/v1';

/** in-toto Statement v1 with Arbiter's verdict as the predicate. */
export interface VerdictStatement {
  _type: 'https://in-toto.io/Statement/v1';
  subject: Array<{ name: string; digest: Record<string, string> }>;
  predicateType: typeof VERDICT_PREDICATE_TYPE;
  predicate: VerdictPayload;
}

/** A DSSE envelope. */
export interface DsseEnvelope {
  payloadType: string;
  /** base64 of the exact statement bytes. */
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** The statement for a verdict: subjects are the patch (by digest) and the base commit. */
export function verdictStatement(payload: VerdictPayload): VerdictStatement {
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [
      {
        name: `patch:${payload.tenantId}/${payload.taskId}`,
        digest: { sha256: payload.diff.digest.replace(/^sha256:/, '') },
      },
      { name: 'base-commit', digest: { gitCommit: payload.baseCommit } },
    ],
    predicateType: VERDICT_PREDICATE_TYPE,
    predicate: payload,
  };
}

/** DSSE's pre-authentication encoding: what is actually signed. */
export function preAuthEncoding(payloadType: string, payload: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const header = enc.encode(`DSSEv1 ${enc.encode(payloadType).length} ${payloadType} ${payload.length} `);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}
