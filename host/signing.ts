/**
 * ed25519 signing of verdicts (node:crypto). The key is created on first use in a file only
 * the owner can read, or supplied by the operator; its public half is published in every
 * envelope's key id (`ed25519:<base64 of the 32-byte key>`), so a verdict can be checked
 * offline and pinned to a known key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { canonicalJson, preAuthEncoding } from '../domain/canonical';
import { IN_TOTO_PAYLOAD_TYPE, type DsseEnvelope, type VerdictStatement } from '../domain/dsse';
import { ed25519Valid, publicKeyOfKeyId } from '../domain/approval';
import { sha256 } from './digest';
import { ObjectCache } from './object-cache';
import { printable } from '../domain/printable';

/**
 * Signatures known to verify, by key id, signature and the digest of the signed bytes: made by a
 * signer of this process, or verified once. The worker checks each verdict it signed again before
 * delivering, and each provenance checkpoint whenever it extends the chain; in pure JS (strict
 * RFC 8032) that took milliseconds a time. A changed byte, signature or key is another entry.
 */
const goodSignatures = new ObjectCache<true>(10_000);

/** Why `signature` is not `keyId`'s over `message`, or undefined when it is (remembered once it verifies). */
function signatureProblem(signature: string, message: Uint8Array, keyId: string): string | undefined {
  const key = [keyId, signature, sha256(message)];
  if (goodSignatures.has(key)) return undefined;
  if (!publicKeyOfKeyId(keyId)) return `'${keyId}' is not a usable ed25519 key id`;
  if (!ed25519Valid(signature, message, keyId)) return `signature does not verify against key ${keyId}`;
  goodSignatures.set(key, true);
  return undefined;
}

/** A signed DSSE envelope (as stored, verbatim) and the digest of the exact payload bytes it signs. */
export interface SignedEnvelope {
  envelope: string;
  statementDigest: string;
}

/** Signs statements with one key. */
export interface VerdictSigner {
  keyId: string;
  signStatement(statement: VerdictStatement): SignedEnvelope;
  /** Signs any JSON statement (canonical bytes) under `payloadType`, which the signature covers. */
  signPayload(payloadType: string, statement: unknown): SignedEnvelope;
}

/** `ed25519:<base64 raw public key>` for a public key. */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `ed25519:${der.subarray(der.length - 32).toString('base64')}`;
}

/** The public key a key id publishes. */
export function publicKeyFromKeyId(keyId: string): KeyObject {
  const raw = publicKeyOfKeyId(keyId);
  if (!raw) throw new Error(`'${keyId}' is not a usable ed25519 key id`);
  const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');
  return createPublicKey({ key: Buffer.concat([spkiPrefix, raw]), format: 'der', type: 'spki' });
}

/** Reads the key at `file`, creating it (0600, public half beside it as `.pub`) when missing. */
export function loadOrCreateSigningKey(file: string): KeyObject {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    try {
      writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      writeFileSync(`${file}.pub`, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another worker created it first
    }
  }
  return readSigningKey(file);
}

/** The signing key at `file`, which must exist. */
export function readSigningKey(file: string): KeyObject {
  return createPrivateKey(readFileSync(file));
}

/** A signer over `privateKey`. */
export function createVerdictSigner(privateKey: KeyObject): VerdictSigner {
  const keyId = keyIdOf(createPublicKey(privateKey));
  const signPayload = (payloadType: string, statement: unknown): SignedEnvelope => {
    const body = Buffer.from(canonicalJson(statement));
    const message = preAuthEncoding(payloadType, body);
    const sig = sign(null, message, privateKey);
    goodSignatures.set([keyId, sig.toString('base64'), sha256(message)], true);
    const envelope: DsseEnvelope = {
      payloadType,
      payload: body.toString('base64'),
      signatures: [{ keyid: keyId, sig: sig.toString('base64') }],
    };
    return { envelope: `${JSON.stringify(envelope, null, 2)}\n`, statementDigest: sha256(body) };
  };
  return { keyId, signPayload, signStatement: (statement) => signPayload(IN_TOTO_PAYLOAD_TYPE, statement) };
}

/** The result of checking an envelope; `statement` is the parsed payload, not yet validated beyond JSON. */
export interface EnvelopeCheck<T = VerdictStatement> {
  ok: boolean;
  problems: string[];
  keyId?: string;
  statement?: T;
  statementDigest?: string;
}

/** A DSSE signature whose key id and signature are text, or undefined. */
function signatureOf(value: unknown): { keyid: string; sig: string } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { keyid, sig } = value as Record<string, unknown>;
  return typeof keyid === 'string' && typeof sig === 'string' ? { keyid, sig } : undefined;
}

/**
 * Checks an envelope offline: well-formed, of `payloadType` (in-toto by default), signed over its
 * exact payload by the key its key id names, and that key one of `trustedKeyIds`. With no trusted
 * key nothing verifies: a signature checked only against the key the envelope itself names proves
 * nothing. What the statement says is checked by its readers (domain/vsa-checks.ts).
 */
export function verifyEnvelope<T = VerdictStatement>(
  text: string,
  trustedKeyIds: readonly string[],
  payloadType = IN_TOTO_PAYLOAD_TYPE,
): EnvelopeCheck<T> {
  let envelope: DsseEnvelope;
  try {
    envelope = JSON.parse(text) as DsseEnvelope;
  } catch {
    return { ok: false, problems: ['the envelope is not valid JSON'] };
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope))
    return { ok: false, problems: ['the envelope is not a JSON object'] };
  const problems: string[] = [];
  // Anyone's values: read as text only when they are text (`String` of an array nested 150,000
  // deep overflowed the stack, found in review).
  const given = typeof envelope.payloadType === 'string' ? envelope.payloadType : undefined;
  if (given !== payloadType)
    problems.push(
      given === undefined ? 'payloadType is not text' : `payloadType is '${given}', expected '${payloadType}'`,
    );
  const body = Buffer.from(typeof envelope.payload === 'string' ? envelope.payload : '', 'base64');
  if (body.toString('base64') !== envelope.payload) problems.push('payload is not canonical base64');
  const first: unknown = Array.isArray(envelope.signatures) ? envelope.signatures[0] : undefined;
  const signature = signatureOf(first);
  if (!Array.isArray(envelope.signatures) || envelope.signatures.length !== 1)
    problems.push('expected exactly one signature');
  else if (!signature) problems.push("the signature's key id and signature are not text");
  let statement: T | undefined;
  try {
    statement = JSON.parse(body.toString('utf8')) as T;
  } catch {
    problems.push('payload is not a JSON statement');
  }
  // Trust first: a signature no trusted key made is refused unchecked (an untrusted file of 8,000
  // envelopes cost 11 s of ed25519 checks, found in review).
  if (signature && !trustedKeyIds.includes(signature.keyid))
    problems.push(`signed by ${signature.keyid}, which is not a trusted key`);
  else if (signature) {
    const problem = signatureProblem(signature.sig, preAuthEncoding(given ?? '', body), signature.keyid);
    if (problem) problems.push(problem);
  }
  // The envelope's own key id and payload type are anyone's text: one line each, escaped (found in review).
  const said = problems.map(printable);
  return {
    ok: problems.length === 0,
    problems: said,
    keyId: signature?.keyid,
    statement,
    statementDigest: sha256(body),
  };
}
