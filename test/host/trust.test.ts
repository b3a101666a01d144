/**
 * The trust module's parsing: the two public-key formats give the same key id, keyrings keep
 * order and skip only blanks and comments, and every other text is refused with where it was,
 * never skipped (a skipped line would silently narrow trust; a guessed one, widen it).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { KeyFileMissingError, KeyFormatError } from '../../domain/errors';
import { keyIdOf } from '../../host/signing';
import {
  keyIdFromPublicKeyText,
  loadKeyring,
  parseKeyring,
  pinKey,
  readKeyFile,
  sshPublicKeyLine,
} from '../../host/trust';
import { opensshLineOf } from '../helpers/python';
import { tempDir } from '../helpers/temp';

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    keyId: keyIdOf(publicKey),
    pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: Error) => err instanceof KeyFormatError && message.test(err.message));
}

describe('host/trust: public keys and keyrings', function () {
  this.timeout(30_000);

  it('reads a PEM key and the OpenSSH line pyca/cryptography writes for it as the same key id', async () => {
    const k = keyPair();
    const file = path.join(tempDir('arbiter-trust-'), 'k.pub');
    writeFileSync(file, k.pem);
    assert.equal(keyIdFromPublicKeyText(k.pem), k.keyId);
    const line = await opensshLineOf(file, 'ops@example');
    assert.match(line, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S+ ops@example$/);
    assert.equal(keyIdFromPublicKeyText(line), k.keyId);
    assert.equal(sshPublicKeyLine(k.keyId, 'ops@example'), line, 'and writes that same line');
  });

  it('refuses private keys, other key types, truncated blobs, a non-ed25519 blob and free text', () => {
    const k = keyPair();
    refused(() => keyIdFromPublicKeyText(k.privatePem, 'priv'), /priv:1: expected a PEM public key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
    refused(() => keyIdFromPublicKeyText(rsa.toString(), 'rsa'), /rsa:1: a rsa key, not ed25519/);
    const blob = Buffer.from(sshPublicKeyLine(k.keyId).split(' ')[1], 'base64');
    const short = `ssh-ed25519 ${blob.subarray(0, blob.length - 1).toString('base64')}`;
    refused(() => keyIdFromPublicKeyText(short), /key blob is malformed/);
    const lying = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-rsa1234'), blob.subarray(15)]);
    refused(() => keyIdFromPublicKeyText(`ssh-ed25519 ${lying.toString('base64')}`), /key blob is malformed/);
    const trailing = Buffer.concat([blob, Buffer.from([0])]);
    refused(() => keyIdFromPublicKeyText(`ssh-ed25519 ${trailing.toString('base64')}`), /key blob is malformed/);
    refused(() => keyIdFromPublicKeyText(k.keyId), /expected a PEM public key .* found 'ed25519:/);
    refused(() => keyIdFromPublicKeyText(`${k.pem}${k.pem}`), /expected one public key, found 2/);
  });

  it('a keyring holds both formats in order with comments, and names the line of anything else', () => {
    const [a, b] = [keyPair(), keyPair()];
    const text = `# operators\n\n${sshPublicKeyLine(a.keyId, 'alice')}\n  # the worker\n${b.pem}`;
    assert.deepEqual(parseKeyring(text, 'ring'), [
      { keyId: a.keyId, source: 'ring:3', comment: 'alice' },
      { keyId: b.keyId, source: 'ring:5' },
    ]);
    refused(
      () => parseKeyring(`${text}\nssh-rsa AAAA bob\n`, 'ring'),
      /ring:9: expected a PEM public key .* found 'ssh-rsa AAAA bob'/,
    );
    refused(() => parseKeyring(b.pem.split('\n').slice(0, 2).join('\n'), 'ring'), /ring:1: .* without/);
  });

  it('loadKeyring is empty without a file; readKeyFile insists on one with a key', () => {
    const dir = tempDir('arbiter-trust-');
    assert.deepEqual(loadKeyring(path.join(dir, 'none')), []);
    assert.throws(() => readKeyFile(path.join(dir, 'none')), KeyFileMissingError);
    writeFileSync(path.join(dir, 'empty'), '# nothing yet\n');
    refused(() => readKeyFile(path.join(dir, 'empty')), /holds no public key/);
  });

  it('pinKey appends once, owner-only, and keeps what the keyring had', () => {
    const [a, b] = [keyPair(), keyPair()];
    const file = path.join(tempDir('arbiter-trust-'), 'conf', 'trusted-keys');
    assert.equal(pinKey(file, a.keyId, 'first\nsecond'), true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(pinKey(file, a.keyId, 'again'), false);
    writeFileSync(file, `${readFileSync(file, 'utf8')}# no newline at the end`);
    assert.equal(pinKey(file, b.keyId, 'b'), true);
    assert.deepEqual(
      loadKeyring(file).map((k) => [k.keyId, k.comment]),
      [
        [a.keyId, 'first second'],
        [b.keyId, 'b'],
      ],
    );
  });
});
