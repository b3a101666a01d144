/**
 * A trust root must not hold a key anyone can sign for. The identity point (and the other
 * small-order points) are valid ed25519 encodings; under a lenient verifier the signature
 * R = identity, s = 0 verifies any message with them. Keyrings refuse such keys, and every
 * signature in Arbiter goes through one strict check (domain/approval.ts ed25519Valid).
 */
import assert from 'node:assert/strict';
import { verifyEnvelope } from '../../host/signing';
import { parseKeyring } from '../../host/trust';

const IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
const KEY_ID = `ed25519:${IDENTITY.toString('base64')}`;
const SSH_LINE = `ssh-ed25519 ${Buffer.concat([
  Buffer.from([0, 0, 0, 11]),
  Buffer.from('ssh-ed25519'),
  Buffer.from([0, 0, 0, 32]),
  IDENTITY,
]).toString('base64')} worker`;

describe('small-order ed25519 keys are never trusted', () => {
  it('a keyring line holding the identity point is refused', () => {
    assert.throws(() => parseKeyring(`${SSH_LINE}\n`, 'keyring'), /key/);
  });

  it('an envelope "signed" by the identity point with R = identity, s = 0 does not verify, even if trusted', () => {
    const payload = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', forged: true }));
    const sig = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]);
    const envelope = JSON.stringify({
      payloadType: 'application/vnd.in-toto+json',
      payload: payload.toString('base64'),
      signatures: [{ keyid: KEY_ID, sig: sig.toString('base64') }],
    });
    assert.notDeepEqual(verifyEnvelope(envelope, [KEY_ID]).problems, [], 'a universal signature verified');
  });
});
