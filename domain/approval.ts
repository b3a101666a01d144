/**
 * Signed waiver decisions. An approval or rejection is an ed25519 signature, by a key registered
 * for the approver, over the canonical waiver request it decides: tenant, task, run, spec, tree,
 * patch digest, gates, delta, plus the decision's own terms (reason code, expiry). Anyone who can
 * send an update can type a name; only the key holder can produce this. Pure, so the workflow's
 * update validator checks it before anything reaches history, and `verdict verify` re-checks it.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { z } from 'zod';
import { base64Bytes } from './base64';
import { canonicalJson, preAuthEncoding } from './canonical';
import { storableValue } from './bounds';
import { WAIVER_REASON_CODES } from './waiver';
import { GIT_OBJECT_ID } from './ids';

/** DSSE payload type of a signed decision: the signature is over PAE(type, canonical claim). */
export const WAIVER_DECISION_PAYLOAD_TYPE = 'application/vnd.arbiter.waiver-decision+json';
/** The claim's version tag; a verifier refuses any other. */
export const WAIVER_CLAIM_TYPE = 'arbiter.waiver-decision/v1';

const Approver = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'approver must be a handle or email');
/** `ed25519:<base64 of the raw 32-byte public key>`, as verdict envelopes name keys. */
export const KeyIdSchema = z.string().regex(/^ed25519:[A-Za-z0-9+/]{43}=$/, 'must be an ed25519 key id');

/** What a decision is about: the pending waiver request of one run, exactly. */
export const WaiverRequestTermsSchema = z
  .object({
    tenantId: z.string().min(1),
    taskId: z.string().min(1),
    runId: z.string().min(1),
    specId: z.string().min(1),
    treeId: z.string().regex(GIT_OBJECT_ID),
    patchDigest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    gates: z.array(z.string()).min(1),
    delta: z.object({ maxFiles: z.number().int().nonnegative(), maxLoc: z.number().int().nonnegative() }).strict(),
  })
  .strict();
/** The request part of a claim. */
export type WaiverRequestTerms = z.infer<typeof WaiverRequestTermsSchema>;

/** The signed statement: the request, who decides, and the decision's terms. */
/**
 * An approver's words, stored with the signed claim as signed: jsonb cannot hold a NUL or half a
 * surrogate pair, and made storable the stored claim would no longer be the one signed.
 */
const freeText = (min: number) =>
  z
    .string()
    .min(min)
    .max(1000)
    .refine((s) => storableValue(s) === s, 'must not contain a NUL character or half a surrogate pair');

export const WaiverClaimSchema = WaiverRequestTermsSchema.extend({
  type: z.literal(WAIVER_CLAIM_TYPE),
  decision: z.enum(['approve', 'reject']),
  approver: Approver,
  /** Approvals: when the waiver stops applying. Rejections: when the signed rejection stops being accepted. */
  expiresAt: z.string().datetime(),
  reasonCode: z.enum(WAIVER_REASON_CODES).optional(),
  justification: freeText(0).optional(),
  reason: freeText(1).optional(),
})
  .strict()
  .superRefine((c, ctx) => {
    if (c.decision === 'approve' && !c.reasonCode)
      ctx.addIssue({ code: 'custom', path: ['reasonCode'], message: 'an approval needs a CAWS reason code' });
    if (c.decision === 'reject' && !c.reason)
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a rejection needs a reason' });
  });
/** A waiver decision as signed. */
export type WaiverClaim = z.infer<typeof WaiverClaimSchema>;

/** The input of `approveWaiver` and `rejectWaiver`: a claim, the key that signed it, the signature. */
export const SignedDecisionSchema = z
  .object({
    claim: WaiverClaimSchema,
    keyId: KeyIdSchema,
    signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 ed25519 signature'),
  })
  .strict();
/** A signed waiver decision, as sent and as stored with the waiver and the verdict. */
export type SignedDecision = z.infer<typeof SignedDecisionSchema>;

/** The exact bytes an approver signs. */
export function decisionSigningBytes(claim: WaiverClaim): Uint8Array {
  return preAuthEncoding(WAIVER_DECISION_PAYLOAD_TYPE, new TextEncoder().encode(canonicalJson(claim)));
}

/**
 * True for a 32-byte encoding of a point that is on the curve and not of small order. A
 * small-order key (the identity, say) has signatures that verify for every message under
 * lenient verifiers, so no such key is ever trusted or checked against.
 */
export function usableEd25519Key(raw: Uint8Array): boolean {
  if (raw.length !== 32) return false;
  try {
    return !ed25519.ExtendedPoint.fromHex(raw).isSmallOrder();
  } catch {
    return false;
  }
}

/** The raw public key a key id names, or undefined when it names none (or an unusable one). */
export function publicKeyOfKeyId(keyId: string): Uint8Array | undefined {
  const raw = keyId.startsWith('ed25519:') ? base64Bytes(keyId.slice('ed25519:'.length)) : undefined;
  return raw && usableEd25519Key(raw) ? raw : undefined;
}

/**
 * The one ed25519 check every signature in Arbiter goes through (verdicts, checkpoints,
 * approvals): RFC 8032 strict (canonical s, no small-order keys), signature and key given as
 * canonical base64 and a key id, so a workflow and a CLI can never disagree on a signature.
 */
export function ed25519Valid(signatureBase64: string, message: Uint8Array, keyId: string): boolean {
  const key = publicKeyOfKeyId(keyId);
  const sig = base64Bytes(signatureBase64);
  if (!key || sig?.length !== 64) return false;
  try {
    return ed25519.verify(sig, message, key, { zip215: false });
  } catch {
    return false;
  }
}

/** True when `signed.signature` is the key id's key's signature over the claim. */
export function signatureValid(signed: SignedDecision): boolean {
  return ed25519Valid(signed.signature, decisionSigningBytes(signed.claim), signed.keyId);
}

/** The first field where the claim's request differs from `expected`, named for the person who sent it. */
export function requestMismatch(claim: WaiverRequestTerms, expected: WaiverRequestTerms): string | undefined {
  for (const field of Object.keys(expected) as Array<keyof WaiverRequestTerms>) {
    const [got, want] = [canonicalJson(claim[field]), canonicalJson(expected[field])];
    if (got !== want) return `the decision is for ${field} ${got}, but the pending waiver's ${field} is ${want}`;
  }
  return undefined;
}

/** The request part of a claim (what `requestMismatch` compares). */
export function requestTermsOf(claim: WaiverClaim): WaiverRequestTerms {
  const { tenantId, taskId, runId, specId, treeId, patchDigest, gates, delta } = claim;
  return { tenantId, taskId, runId, specId, treeId, patchDigest, gates, delta };
}

/** An approver's registered key, as the waiver desk holds it while a waiver is pending. */
export interface RegisteredKey {
  approver: string;
  keyId: string;
  tiers: number[];
}

/**
 * Why a signed decision would not count at `now` though it did when made: its approver's key is no
 * longer registered for this tier (revoked or replaced), or its expiry passed. An approval is
 * judged so again when a later one completes the quorum: the waiver is granted then, on all of them.
 * An undefined tier is not judged (a request recorded before its tier travelled with it).
 */
export function lapseProblem(
  signed: SignedDecision,
  keyring: readonly RegisteredKey[],
  riskTier: number | undefined,
  now: number,
): string | undefined {
  const { claim } = signed;
  const registered = keyring.find((k) => k.approver === claim.approver);
  if (!registered) return `'${claim.approver}' is not an approver for tenant '${claim.tenantId}' with a registered key`;
  if (registered.keyId !== signed.keyId)
    return `signed with ${signed.keyId}, which is not the registered key of '${claim.approver}' (revoked or never registered)`;
  if (riskTier !== undefined && !registered.tiers.includes(riskTier))
    return `'${claim.approver}' may not decide waivers at risk tier ${riskTier}`;
  if (Date.parse(claim.expiresAt) <= now) return `the signed decision expired at ${claim.expiresAt}`;
  return undefined;
}

/** What a decision is checked against: the pending request, the tenant's keys, earlier approvals, the time. */
export interface DecisionContext {
  decision: 'approve' | 'reject';
  expected: WaiverRequestTerms;
  riskTier: number;
  keyring: readonly RegisteredKey[];
  prior: ReadonlyArray<{ approver: string; keyId: string }>;
  now: number;
  maxExpiryHours: number;
}

/**
 * Why a signed decision must be refused, or undefined when it may count: sent as what it says,
 * about this run's exact request, by a registered key of the named approver, allowed at the tier,
 * validly signed, unexpired, and from a person and a key that have not approved already.
 */
export function decisionProblem(signed: SignedDecision, ctx: DecisionContext): string | undefined {
  const { claim } = signed;
  if (claim.decision !== ctx.decision) return `this is a signed ${claim.decision} decision, sent as ${ctx.decision}`;
  const mismatch = requestMismatch(requestTermsOf(claim), ctx.expected);
  if (mismatch) return mismatch;
  const lapsed = lapseProblem(signed, ctx.keyring, ctx.riskTier, ctx.now);
  if (lapsed) return lapsed;
  if (!signatureValid(signed)) return `the signature does not verify: not signed by ${signed.keyId} over this claim`;
  const hours = (Date.parse(claim.expiresAt) - ctx.now) / 3_600_000;
  if (claim.decision === 'approve' && hours > ctx.maxExpiryHours)
    return `the waiver would expire in ${hours.toFixed(1)} hours, which exceeds the policy maximum of ${ctx.maxExpiryHours} hours`;
  if (ctx.prior.some((p) => p.approver === claim.approver))
    return `'${claim.approver}' has already approved this waiver; another approver is needed`;
  if (ctx.prior.some((p) => p.keyId === signed.keyId))
    return `key ${signed.keyId} has already approved this waiver; a second approval needs a distinct key`;
  return undefined;
}
