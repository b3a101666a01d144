/**
 * Keys as approvers hold them, read with real OpenSSH tools: ssh-keygen's private key signs as
 * its `.pub` says, a passphrase-protected key is refused with the way out (ssh-agent), and a
 * real ssh-agent lists and signs with its ed25519 key without handing it over.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { keyIdOf, publicKeyFromKeyId } from '../../host/signing';
import { agentEd25519Keys, agentSign, keyIdOfRaw, privateKeyFromText } from '../../host/ssh-keys';
import { keyIdFromPublicKeyText } from '../../host/trust';
import { tempDir } from '../helpers/temp';

function sshKeygen(type: string, passphrase = ''): string {
  const file = path.join(tempDir('arbiter-sshkey-'), 'id');
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'test', '-f', file]);
  return file;
}

describe('host/ssh-keys: OpenSSH keys and ssh-agent', function () {
  this.timeout(30_000);

  it('an OpenSSH private key is the key its .pub names; encrypted and non-ed25519 keys are refused', () => {
    const file = sshKeygen('ed25519');
    const key = privateKeyFromText(readFileSync(file, 'utf8'), file);
    assert.equal(keyIdOf(createPublicKey(key)), keyIdFromPublicKeyText(readFileSync(`${file}.pub`, 'utf8')));
    const locked = sshKeygen('ed25519', 'secret passphrase');
    assert.throws(
      () => privateKeyFromText(readFileSync(locked, 'utf8'), locked),
      /passphrase-protected: load it into ssh-agent/,
    );
    const ecdsa = sshKeygen('ecdsa');
    assert.throws(() => privateKeyFromText(readFileSync(ecdsa, 'utf8'), ecdsa), /only ssh-ed25519|use ed25519/);
  });

  it('a real ssh-agent lists its ed25519 key and signs with it; the signature verifies with the public key alone', async () => {
    const file = sshKeygen('ed25519');
    const socket = path.join(tempDir('arbiter-agent-'), 'sock');
    const out = execFileSync('ssh-agent', ['-a', socket, '-s'], { encoding: 'utf8' });
    const pid = /SSH_AGENT_PID=(\d+)/.exec(out)?.[1];
    try {
      execFileSync('ssh-add', ['-q', file], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
      const [raw] = await agentEd25519Keys(socket);
      const keyId = keyIdOfRaw(raw);
      assert.equal(keyId, keyIdFromPublicKeyText(readFileSync(`${file}.pub`, 'utf8')));
      const data = Buffer.from('the exact bytes');
      const sig = await agentSign(socket, raw, data);
      assert.equal(verify(null, data, publicKeyFromKeyId(keyId), sig), true);
      assert.equal(verify(null, Buffer.from('other bytes'), publicKeyFromKeyId(keyId), sig), false);
      const stranger = Buffer.alloc(32, 7);
      await assert.rejects(agentSign(socket, stranger, data), /refused to sign/);
    } finally {
      if (pid) spawnSync('kill', [pid]);
    }
  });
});
