/**
 * Signing a waiver decision on the approver's side: the claim is built from the task's pending
 * request exactly as the workflow will check it, and signed with the approver's key file or by
 * their ssh-agent. The result is the `approveWaiver` / `rejectWaiver` update input, for the
 * arbiter CLI to send or for `temporal workflow update execute --input` to carry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createPublicKey, sign } from 'node:crypto';
import {
  decisionSigningBytes,
  WAIVER_CLAIM_TYPE,
  WaiverClaimSchema,
  type SignedDecision,
  type WaiverClaim,
} from '../domain/approval';
import type { WaiverRequest } from '../domain/waiver';
import { KeyFormatError } from '../domain/errors';
import { keyIdOf } from '../host/signing';
import { agentEd25519Keys, agentSign, keyIdOfRaw, privateKeyFromText } from '../host/ssh-keys';
import { keyIdFromPublicKeyText } from '../host/trust';

/** Signs decision bytes with one key, wherever that key lives. */
export interface DecisionSigner {
  keyId: string;
  sign(bytes: Uint8Array): Promise<Buffer>;
}

function agentSigner(socket: string, raw: Buffer): DecisionSigner {
  return { keyId: keyIdOfRaw(raw), sign: (bytes) => agentSign(socket, raw, Buffer.from(bytes)) };
}

/**
 * The signer `--key FILE` names: a private key file (OpenSSH or PEM) signs here; a public key
 * file names the ssh-agent key to sign with. Without a file, the agent's one ed25519 key.
 */
export async function resolveSigner(
  keyFile: string | undefined,
  agentSocket: string | undefined,
): Promise<DecisionSigner> {
  if (keyFile) {
    if (!existsSync(keyFile)) throw new KeyFormatError(keyFile, 'does not exist (--key)');
    const text = readFileSync(keyFile, 'utf8');
    if (/PRIVATE KEY/.test(text)) {
      const key = privateKeyFromText(text, keyFile);
      return { keyId: keyIdOf(createPublicKey(key)), sign: async (bytes) => sign(null, bytes, key) };
    }
    if (!agentSocket)
      throw new KeyFormatError(keyFile, 'is a public key, and no ssh-agent (SSH_AUTH_SOCK) is there to sign with it');
    const keyId = keyIdFromPublicKeyText(text, keyFile);
    return agentSigner(agentSocket, Buffer.from(keyId.slice('ed25519:'.length), 'base64'));
  }
  if (!agentSocket)
    throw new KeyFormatError('--key', 'no key to sign with: pass --key FILE, or run an ssh-agent holding your key');
  const keys = await agentEd25519Keys(agentSocket);
  if (keys.length !== 1)
    throw new KeyFormatError(
      'ssh-agent',
      `it holds ${keys.length} ed25519 keys: pass --key with the .pub of the one registered for you`,
    );
  return agentSigner(agentSocket, keys[0]);
}

/** What the approver decides, beyond the request itself. */
export type DecisionTerms =
  | { decision: 'approve'; approver: string; reasonCode: string; justification?: string; expiresAt: string }
  | { decision: 'reject'; approver: string; reason: string; expiresAt: string };

/** The claim over the task's pending request; throws naming any bad term. */
export function decisionClaim(
  task: { tenantId: string; taskId: string },
  pending: WaiverRequest,
  terms: DecisionTerms,
): WaiverClaim {
  const { runId, specId, treeId, patchDigest, gates, delta } = pending;
  return WaiverClaimSchema.parse({
    type: WAIVER_CLAIM_TYPE,
    tenantId: task.tenantId,
    taskId: task.taskId,
    runId,
    specId,
    treeId,
    patchDigest,
    gates,
    delta,
    ...terms,
  });
}

/** The update input: the claim, the key id, the signature over the claim's signing bytes. */
export async function signDecision(claim: WaiverClaim, signer: DecisionSigner): Promise<SignedDecision> {
  const signature = await signer.sign(decisionSigningBytes(claim));
  return { claim, keyId: signer.keyId, signature: signature.toString('base64') };
}

/** The key id a public key file registers (`approvers add`); a private key is refused so it is never copied around. */
export function keyIdOfPublicKeyFile(file: string): string {
  if (!existsSync(file)) throw new KeyFormatError(file, 'does not exist (--key)');
  const text = readFileSync(file, 'utf8');
  if (/PRIVATE KEY/.test(text)) throw new KeyFormatError(file, 'is a private key: register the public key (.pub) only');
  return keyIdFromPublicKeyText(text, file);
}
