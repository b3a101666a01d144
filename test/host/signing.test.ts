/**
 * Signed verdicts: in-toto statements in DSSE envelopes, ed25519. Any change to the payload,
 * the signature or the key is detected; the key file is created owner-only; and from the CLI a
 * real task's verdict verifies, and fails once a byte of it changes.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  createVerdictSigner,
  keyIdOf,
  loadOrCreateSigningKey,
  publicKeyFromKeyId,
  verifyEnvelope,
} from '../../host/signing';
import { defaultSigningKeyFile } from '../../workers/worker';
import { arbiter } from '../helpers/cli';
import { goodTaskInput } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { sampleStatement } from '../helpers/verdicts';
import { tempDir } from '../helpers/temp';

function signer() {
  const file = path.join(tempDir('arbiter-key-'), 'keys', 'k.pem');
  return { file, signer: createVerdictSigner(loadOrCreateSigningKey(file)) };
}

function mutate(
  envelopeText: string,
  edit: (e: { payload: string; signatures: Array<{ keyid: string; sig: string }> }) => void,
): string {
  const e = JSON.parse(envelopeText);
  edit(e);
  return JSON.stringify(e);
}

function flipBase64(b64: string, at = 10): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[at] ^= 0x01;
  return bytes.toString('base64');
}

describe('signed verdicts', function () {
  this.timeout(90_000);

  it('creates the key owner-only and publishes the public key in the key id', () => {
    const { file, signer: s } = signer();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(s.keyId, /^ed25519:[A-Za-z0-9+/]{43}=$/);
    assert.equal(keyIdOf(publicKeyFromKeyId(s.keyId)), s.keyId);
    assert.equal(createVerdictSigner(loadOrCreateSigningKey(file)).keyId, s.keyId, 'the same key is reused');
  });

  it('verifies an untouched envelope and states the patch and base commit as subjects', () => {
    const { signer: s } = signer();
    const { envelope, statementDigest } = s.signStatement(sampleStatement());
    const check = verifyEnvelope(envelope, [s.keyId]);
    assert.deepEqual(check.problems, []);
    assert.equal(check.statementDigest, statementDigest);
    assert.equal(check.statement?._type, 'https://in-toto.io/Statement/v1');
    assert.deepEqual(
      check.statement?.subject.map((x) => x.digest),
      [{ sha256: 'c'.repeat(64) }, { gitCommit: 'b'.repeat(40) }],
    );
  });

  it('detects a tampered payload, signature or key, and an untrusted signer', () => {
    const { signer: s } = signer();
    const { envelope } = s.signStatement(sampleStatement());
    const tamperedPayload = mutate(
      envelope,
      (e) =>
        (e.payload = Buffer.from(
          Buffer.from(e.payload, 'base64').toString('utf8').replace('"PASS"', '"FAIL"'),
        ).toString('base64')),
    );
    assert.match(verifyEnvelope(tamperedPayload, [s.keyId]).problems.join(), /signature does not verify/);
    const tamperedSig = mutate(envelope, (e) => (e.signatures[0].sig = flipBase64(e.signatures[0].sig)));
    assert.match(verifyEnvelope(tamperedSig, [s.keyId]).problems.join(), /signature does not verify/);
    const tamperedKey = mutate(
      envelope,
      (e) => (e.signatures[0].keyid = `ed25519:${flipBase64(e.signatures[0].keyid.slice(8), 5)}`),
    );
    assert.ok(!verifyEnvelope(tamperedKey, [s.keyId]).ok);
    const other = generateKeyPairSync('ed25519');
    const resigned = createVerdictSigner(other.privateKey).signStatement(sampleStatement()).envelope;
    assert.ok(verifyEnvelope(resigned, [keyIdOf(other.publicKey)]).ok, 'self-consistent on its own');
    assert.match(verifyEnvelope(resigned, [s.keyId]).problems.join(), /not a trusted key/);
    // A signature known good (made here, then verified) binds its key: claimed for another, it fails.
    const otherKeyId = keyIdOf(other.publicKey);
    const claimedByOther = mutate(envelope, (e) => (e.signatures[0].keyid = otherKeyId));
    assert.match(verifyEnvelope(claimedByOther, [otherKeyId]).problems.join(), /signature does not verify/);
  });

  it('trusts nothing by default: with no trusted key even a genuine envelope does not verify', () => {
    const { signer: s } = signer();
    const { envelope } = s.signStatement(sampleStatement());
    assert.deepEqual(verifyEnvelope(envelope, []).problems, [`signed by ${s.keyId}, which is not a trusted key`]);
  });

  it('from the CLI: a real verdict verifies against the worker key, and any changed byte fails it', async () => {
    const stack = testStack();
    const input = await goodTaskInput();
    const tenant = input.tenantId;
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED');
    const env = { DATABASE_URL: stack.databaseUrl, ARBITER_HOME: stack.home, TEMPORAL_ADDRESS: stack.address };
    const workerKey = `${defaultSigningKeyFile(stack.home)}.pub`;
    const ok = await arbiter(['verdict', 'verify', `${tenant}/${input.taskId}`, '--key', workerKey, '--json'], env);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const result = JSON.parse(ok.stdout);
    assert.equal(result.trustedKey, `${workerKey}:1`);
    assert.equal(result.digest, final.verdict?.digest, 'the workflow reports the signed statement digest');
    const shown = await arbiter(['verdict', 'show', `${tenant}/${input.taskId}`], env);
    const file = path.join(tempDir('arbiter-verdict-'), 'verdict.json');
    writeFileSync(file, shown.stdout);
    assert.equal((await arbiter(['verdict', 'verify', file, '--key', workerKey], env)).code, 0);
    const envelope = JSON.parse(shown.stdout);
    for (const [what, edit] of [
      ['payload', () => (envelope.payload = flipBase64(envelope.payload, 40))],
      ['signature', () => (envelope.signatures[0].sig = flipBase64(envelope.signatures[0].sig, 3))],
    ] as const) {
      const copy = JSON.parse(shown.stdout);
      Object.assign(envelope, copy);
      edit();
      writeFileSync(file, JSON.stringify(envelope));
      const bad = await arbiter(['verdict', 'verify', file, '--key', workerKey], env);
      assert.equal(bad.code, 1, `a changed ${what} must fail verification`);
      assert.match(bad.stderr, /verdict INVALID/);
    }
  });
});
