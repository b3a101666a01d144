/**
 * Files someone hands to a person running `arbiter verdict verify FILE` or `arbiter provenance
 * verify --checkpoint FILE` (found in review): a symlink to `/dev/zero` grew the verifier without
 * bound and a FIFO blocked it for good; an envelope field nested 150,000 deep overflowed its stack;
 * every envelope of an untrusted key cost an ed25519 check; and a WAIVED verdict whose waiver ran
 * out years ago passed `--require-pass`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decisionClaim, resolveSigner, signDecision } from '../../client/approvals';
import { CHECKPOINT_PAYLOAD_TYPE } from '../../domain/provenance-checkpoint';
import { createVerdictSigner, keyIdOf, verifyEnvelope } from '../../host/signing';
import { approverKey } from '../helpers/approvers';
import { arbiter } from '../helpers/cli';
import { tempDir } from '../helpers/temp';
import { SAMPLE_VERDICT_PAYLOAD, sampleStatement } from '../helpers/verdicts';

const FAKE_SIG = `${'A'.repeat(86)}==`;

function newPub(dir: string, name: string): { file: string; keyId: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const file = path.join(dir, name);
  writeFileSync(file, publicKey.export({ type: 'spki', format: 'pem' }));
  return { file, keyId: keyIdOf(publicKey) };
}

describe('client: files handed to the verifier', function () {
  this.timeout(120_000);
  const dir = tempDir('arbiter-handed-files-');
  const env = { ARBITER_HOME: path.join(dir, 'home'), DATABASE_URL: '', TEMPORAL_ADDRESS: '127.0.0.1:1' };

  it('reads only a regular file: a link to /dev/zero and a FIFO are refused at once', async () => {
    const key = newPub(dir, 'k1.pub');
    symlinkSync('/dev/zero', path.join(dir, 'zero.json'));
    execFileSync('mkfifo', [path.join(dir, 'fifo.json')]);
    for (const file of ['./zero.json', './fifo.json']) {
      const res = await arbiter(['verdict', 'verify', file, '--key', key.file], env, 30_000, dir);
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /the verdict file \.\/\w+\.json is not a regular file/, res.stderr);
    }
    const checkpoint = await arbiter(
      ['provenance', 'verify', '--key', key.file, '--checkpoint', './fifo.json'],
      env,
      30_000,
      dir,
    );
    assert.notEqual(checkpoint.code, 0);
    assert.match(checkpoint.stderr, /--checkpoint \.\/fifo\.json is not a regular file/, checkpoint.stderr);
  });

  it('refuses an envelope whose fields are not text, however deeply nested, without reading them', async () => {
    const key = newPub(dir, 'k2.pub');
    const deep = `${'['.repeat(150_000)}${']'.repeat(150_000)}`;
    const file = path.join(dir, 'nested.json');
    writeFileSync(
      file,
      `{"payloadType":${deep},"payload":"e30=","signatures":[{"keyid":${JSON.stringify(key.keyId)},"sig":"${FAKE_SIG}"}]}`,
    );
    const res = await arbiter(['verdict', 'verify', file, '--key', key.file, '--json'], env);
    assert.doesNotMatch(res.stderr, /Maximum call stack size exceeded/, res.stderr);
    assert.match(res.stdout, /"ok": false/);
    assert.match(res.stdout, /payloadType is not text/);

    const checkpoint = path.join(dir, 'nested-checkpoint.json');
    writeFileSync(checkpoint, `[{"payloadType":"${CHECKPOINT_PAYLOAD_TYPE}","x":${deep}}]`);
    const read = await arbiter(['provenance', 'verify', '--key', key.file, '--checkpoint', checkpoint], env);
    assert.notEqual(read.code, 0);
    assert.doesNotMatch(read.stderr, /Maximum call stack size exceeded/, read.stderr);
    assert.match(read.stderr, /is not a provenance checkpoint/, read.stderr);
  });

  it('does not check the signature of an envelope no trusted key made', () => {
    const trusted = newPub(dir, 'trusted.pub');
    const other = newPub(dir, 'other.pub');
    const envelope = {
      payloadType: CHECKPOINT_PAYLOAD_TYPE,
      payload: Buffer.from('{}').toString('base64'),
      signatures: [{ keyid: other.keyId, sig: FAKE_SIG }],
    };
    const check = verifyEnvelope(JSON.stringify(envelope), [trusted.keyId], CHECKPOINT_PAYLOAD_TYPE);
    assert.deepEqual(check.problems, [`signed by ${other.keyId}, which is not a trusted key`]);
    const asTrusted = verifyEnvelope(JSON.stringify(envelope), [other.keyId], CHECKPOINT_PAYLOAD_TYPE);
    assert.equal(asTrusted.problems.length, 1);
    assert.doesNotMatch(asTrusted.problems[0], /not a trusted key/, 'a trusted key’s envelope is checked');
  });

  it('refuses with --require-pass a WAIVED verdict whose waiver expired', async () => {
    const p = SAMPLE_VERDICT_PAYLOAD;
    const alice = approverKey('alice');
    const waiver = (expiresAt: string) =>
      decisionClaim(
        { tenantId: p.tenantId, taskId: p.taskId },
        {
          ...{ runId: p.run!.runId, specId: p.specId, treeId: p.diff.treeId, patchDigest: p.diff.digest },
          ...{ gates: ['budget'], delta: { maxFiles: 1, maxLoc: 0 }, riskTier: 2, approversRequired: 1 },
          ...{ approvals: [], deadline: '2020-01-01T00:00:00.000Z', maxExpiryHours: 168 },
        },
        { decision: 'approve', approver: 'alice', reasonCode: 'architectural_refactor', expiresAt },
      );
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const pub = path.join(dir, 'worker.pub');
    writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const verify = async (expiresAt: string) => {
      const approval = await signDecision(waiver(expiresAt), await resolveSigner(alice.keyFile, undefined));
      const payload = { ...p, outcome: 'WAIVED' as const, waivers: ['WV-1'], approvals: [approval] };
      const { envelope } = createVerdictSigner(privateKey).signStatement(sampleStatement(payload));
      const file = path.join(dir, `waived-${expiresAt.slice(0, 4)}.json`);
      writeFileSync(file, envelope);
      return arbiter(['verdict', 'verify', file, '--task', 'acme/T-1', '--require-pass', '--key', pub], env);
    };
    const expired = await verify('2020-01-04T00:00:00.000Z');
    assert.notEqual(expired.code, 0, expired.stdout);
    assert.match(
      `${expired.stdout}${expired.stderr}`,
      /the waiver approved by alice expired at 2020-01-04T00:00:00\.000Z/,
    );
    const standing = await verify('2099-01-04T00:00:00.000Z');
    assert.equal(standing.code, 0, `${standing.stdout}${standing.stderr}`);
  });
});
