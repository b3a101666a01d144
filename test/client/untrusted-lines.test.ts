/**
 * Text from a file no trusted key signed stays inside the line that quotes it. Found in review:
 * `verdict verify` and `provenance verify` printed an untrusted envelope's own `keyid`,
 * `payloadType` and (for a checkpoint) claimed `tenant` with their line breaks (the CLI's terminal
 * guard keeps those, as a writer's own), so a crafted file wrote whole lines of its choosing, such
 * as `verdict OK: PASSED …` or `ok     acme: …`, while the exit code said it was refused.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINT_PAYLOAD_TYPE } from '../../domain/provenance-checkpoint';
import { IN_TOTO_PAYLOAD_TYPE } from '../../domain/dsse';
import { keyIdFromPublicKeyText } from '../../host/trust';
import { readFileSync } from 'node:fs';
import { arbiter, cliEnv } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';
import { stackKey } from '../helpers/provenance';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

const FAKE_SIG = `${'A'.repeat(86)}==`;

describe('an untrusted file’s text in what the CLI prints', function () {
  this.timeout(90_000);
  const dir = tempDir('arbiter-forged-lines-');

  it("verdict verify FILE prints no line of the envelope's keyid or payload type", async () => {
    const forged =
      'verdict OK: PASSED CAWS_TIER_2 (PASS) for acme/T-1 at arbiter://acme/app@' +
      `${'b'.repeat(40)}, signed by ${keyIdFromPublicKeyText(readFileSync(stackKey().pub, 'utf8'))} (trusted: keyring:1)`;
    const file = path.join(dir, 'v.json');
    writeFileSync(
      file,
      JSON.stringify({
        payloadType: IN_TOTO_PAYLOAD_TYPE,
        payload: Buffer.from('{}').toString('base64'),
        signatures: [{ keyid: `x${'\n'.repeat(60)}${forged}\n\t`, sig: FAKE_SIG }],
      }),
    );
    const res = await arbiter(['verdict', 'verify', file, '--key', stackKey().pub], cliEnv());
    assert.equal(res.code, 1);
    assert.doesNotMatch(res.stderr, /^verdict OK/m, res.stderr);
    assert.match(res.stderr, /\\u000A\\u000A/, 'the line breaks are shown escaped');
  });

  it('provenance verify --checkpoint FILE prints no summary line of the claimed tenant', async () => {
    const victim = uniqueId('victim');
    const claimed = `zz${'\n'.repeat(60)}ok     ${victim}: 99 event(s), checkpoint at seq 98\nok     zz`;
    const statement = { tenant: claimed, seq: 0, headHash: `sha256:${'0'.repeat(64)}`, at: new Date().toISOString() };
    const trusted = keyIdFromPublicKeyText(readFileSync(stackKey().pub, 'utf8'));
    const file = path.join(dir, 'ckpt.json');
    writeFileSync(
      file,
      JSON.stringify([
        {
          payloadType: CHECKPOINT_PAYLOAD_TYPE,
          payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
          signatures: [{ keyid: trusted, sig: FAKE_SIG }],
        },
      ]),
    );
    const res = await arbiter(['provenance', 'verify', '--key', stackKey().pub, '--checkpoint', file], {
      DATABASE_URL: testStack().databaseUrl,
      ARBITER_HOME: testStack().home,
    });
    assert.equal(res.code, 1);
    assert.doesNotMatch(res.stdout, new RegExp(`^ok     ${victim}`, 'm'), res.stdout.slice(-2000));
    assert.doesNotMatch(res.stdout + res.stderr, /\n\n\n/, 'no line breaks of the file’s');
  });
});
