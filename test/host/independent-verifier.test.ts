/**
 * A real verdict checked by code Arbiter did not write: securesystemslib's DSSE envelope (its
 * own pre-authentication encoding) and ed25519 key, in Python (test/fixtures/python/
 * verify_dsse.py). It accepts the genuine envelope, and refuses one whose payload was changed
 * and re-encoded as valid base64, and one signed by another key, whichever key id it names.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';
import type { DsseEnvelope, VerdictStatement } from '../../domain/dsse';
import { createVerdictSigner } from '../../host/signing';
import { defaultSigningKeyFile } from '../../workers/worker';
import { arbiter, cliEnv } from '../helpers/cli';
import { uniqueId, goodTaskInput } from '../helpers/fixtures';
import { runPython } from '../helpers/python';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { tempDir } from '../helpers/temp';

const SCRIPT = path.join(projectRoot(), 'test', 'fixtures', 'python', 'verify_dsse.py');

describe('a verdict checked by securesystemslib (Python), not by Arbiter', function () {
  this.timeout(120_000);
  let genuine: DsseEnvelope;
  let workerPub: string;
  let subjects: { patch: string; base: string };
  const dir = tempDir('arbiter-sslib-');

  before(async () => {
    const input = await goodTaskInput('sslib');
    const tenant = input.tenantId;
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const shown = await arbiter(['verdict', 'show', `${tenant}/${input.taskId}`], cliEnv());
    assert.equal(shown.code, 0, shown.stderr);
    genuine = JSON.parse(shown.stdout) as DsseEnvelope;
    workerPub = `${defaultSigningKeyFile(testStack().home)}.pub`;
    // What the snapshot says was verified, not what the envelope says.
    subjects = { patch: final.diff!.digest.replace(/^sha256:/, ''), base: final.workspace!.baseCommit };
  });

  function statementOf(envelope: DsseEnvelope): VerdictStatement {
    return JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as VerdictStatement;
  }

  async function pythonVerifies(envelope: DsseEnvelope, base = subjects.base) {
    const file = path.join(dir, `${uniqueId('envelope')}.json`);
    writeFileSync(file, JSON.stringify(envelope));
    const res = await runPython([SCRIPT, file, workerPub, subjects.patch, base]);
    assert.ok(res.stdout.trim(), `the verifier printed nothing: ${res.stderr}`);
    return { code: res.code, out: JSON.parse(res.stdout) as Record<string, unknown> };
  }

  it('accepts the genuine verdict, signed by the worker key, about the patch and base commit', async () => {
    const { code, out } = await pythonVerifies(genuine);
    assert.equal(code, 0, JSON.stringify(out));
    assert.equal(out.keyid, genuine.signatures[0].keyid, 'Python derives the same key id from the PEM key');
    assert.equal(out.verificationResult, 'PASSED');
    assert.deepEqual(out.verifiedLevels, ['CAWS_TIER_3']);
  });

  it('refuses the payload changed and re-encoded as valid base64: the outcome flipped, or any one byte', async () => {
    const text = Buffer.from(genuine.payload, 'base64').toString('utf8');
    const flipped = text.replace('"verificationResult":"PASSED"', '"verificationResult":"FAILED"');
    const oneByte = Buffer.from(genuine.payload, 'base64');
    oneByte[oneByte.indexOf('CAWS_TIER_3') + 'CAWS_TIER_'.length] = '1'.charCodeAt(0);
    for (const [what, body] of [
      ['verificationResult flipped', Buffer.from(flipped)],
      ['the level raised by one byte', oneByte],
    ] as const) {
      assert.notEqual(body.toString('base64'), genuine.payload, `${what}: the payload changed`);
      const { code, out } = await pythonVerifies({ ...genuine, payload: body.toString('base64') });
      assert.equal(code, 1, `${what} must be refused: ${JSON.stringify(out)}`);
      assert.match(String(out.error), /VerificationError/);
    }
  });

  it('refuses the same statement signed by another key, under its own key id or the trusted one', async () => {
    const other = createVerdictSigner(generateKeyPairSync('ed25519').privateKey);
    const resigned = JSON.parse(other.signStatement(statementOf(genuine)).envelope) as DsseEnvelope;
    const ownId = await pythonVerifies(resigned);
    assert.equal(ownId.code, 1, JSON.stringify(ownId.out));
    const borrowedId = {
      ...resigned,
      signatures: [{ keyid: genuine.signatures[0].keyid, sig: resigned.signatures[0].sig }],
    };
    const borrowed = await pythonVerifies(borrowedId);
    assert.equal(borrowed.code, 1, JSON.stringify(borrowed.out));
    assert.match(String(borrowed.out.error), /VerificationError/);
  });

  it('refuses a genuine verdict about another base commit than the one asked about', async () => {
    const { code, out } = await pythonVerifies(genuine, '0'.repeat(40));
    assert.equal(code, 1);
    assert.match(String(out.error), /subjects .* are not the patch and the base commit/);
  });
});
