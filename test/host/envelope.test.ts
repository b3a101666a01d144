/**
 * verifyEnvelope's shape checks, each on an envelope whose signature is otherwise valid, so
 * that only the check under test can refuse it: the payload type, the canonical base64 of the
 * payload, and exactly one signature. Each test fails with its check removed in lib/ (all
 * three survived a mutation run of the suite, issue #9). Last, a stored envelope of any other
 * shape is answered with problems, never a throw.
 */
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import * as path from 'node:path';
import { preAuthEncoding } from '../../domain/canonical';
import { IN_TOTO_PAYLOAD_TYPE } from '../../domain/dsse';
import { createVerdictSigner, loadOrCreateSigningKey, verifyEnvelope } from '../../host/signing';
import { sampleStatement } from '../helpers/verdicts';
import { tempDir } from '../helpers/temp';

interface Envelope {
  payloadType: string;
  payload: string;
  signatures: Array<{ keyid: string; sig: string }>;
}

/** A key, its signer and a genuine envelope over the verdict statement. */
function signed() {
  const key = loadOrCreateSigningKey(path.join(tempDir('arbiter-key-'), 'k.pem'));
  const signer = createVerdictSigner(key);
  const envelope = JSON.parse(signer.signStatement(sampleStatement()).envelope) as Envelope;
  return { key, signer, envelope };
}

describe('verifyEnvelope shape checks', () => {
  it('the control: a genuine envelope verifies against its trusted key', () => {
    const { signer, envelope } = signed();
    assert.deepEqual(verifyEnvelope(JSON.stringify(envelope), [signer.keyId]).problems, []);
  });

  it('refuses another payload type, even when the signature covers that type', () => {
    const { key, signer, envelope } = signed();
    const body = Buffer.from(envelope.payload, 'base64');
    const payloadType = 'application/json';
    const sig = sign(null, preAuthEncoding(payloadType, body), key).toString('base64');
    const check = verifyEnvelope(
      JSON.stringify({ ...envelope, payloadType, signatures: [{ keyid: signer.keyId, sig }] }),
      [signer.keyId],
    );
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems, [`payloadType is 'application/json', expected '${IN_TOTO_PAYLOAD_TYPE}'`]);
  });

  it('refuses a payload that decodes to the signed bytes but is not their canonical base64', () => {
    const { signer, envelope } = signed();
    const loose = `${envelope.payload.slice(0, 8)}\n${envelope.payload.slice(8)}`; // Node skips the newline when decoding
    assert.deepEqual(Buffer.from(loose, 'base64'), Buffer.from(envelope.payload, 'base64'));
    const check = verifyEnvelope(JSON.stringify({ ...envelope, payload: loose }), [signer.keyId]);
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems, ['payload is not canonical base64']);
  });

  it('refuses an envelope with more than one signature, even copies of a valid one', () => {
    const { signer, envelope } = signed();
    const check = verifyEnvelope(
      JSON.stringify({ ...envelope, signatures: [envelope.signatures[0], envelope.signatures[0]] }),
      [signer.keyId],
    );
    assert.equal(check.ok, false);
    assert.deepEqual(check.problems, ['expected exactly one signature']);
  });

  it('answers a stored envelope of any other shape with problems, never by throwing', () => {
    const { signer, envelope } = signed();
    const shapes = [
      'null',
      '[]',
      '5',
      '"text"',
      JSON.stringify({ ...envelope, payload: 5 }),
      JSON.stringify({ ...envelope, payloadType: 5 }),
      JSON.stringify({ ...envelope, signatures: 'abc' }),
      JSON.stringify({ ...envelope, signatures: [null] }),
      JSON.stringify({ ...envelope, signatures: [5] }),
      JSON.stringify({ payloadType: IN_TOTO_PAYLOAD_TYPE }),
    ];
    for (const text of shapes) {
      const check = verifyEnvelope(text, [signer.keyId]);
      assert.equal(check.ok, false, text);
      assert.ok(check.problems.length > 0, text);
    }
  });
});
