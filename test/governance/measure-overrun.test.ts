/**
 * Attack: a change too large for git to print. A 210 MiB random file makes a `--binary` patch of
 * about 280 MiB, past the 256 MiB git may print for Arbiter; measuring it failed as if the host
 * had, was retried and ended FAILED with no FAIL counted against the agent. It is now the agent's
 * `PolicyViolationError`, at once, and nothing is delivered.
 */
import assert from 'node:assert/strict';
import { GOOD_PLAN } from '../helpers/fixtures';
import { assertNotDelivered, runTask } from './helpers';

describe('governance: a change too large to measure', function () {
  this.timeout(180_000);

  it("is the agent's PolicyViolationError, not the host's failure retried", async () => {
    const r = await runTask({
      files: { 'src/app.js': 'module.exports = 1;\n' },
      spec: { scope: { in: ['src/'], out: [] } },
      steps: [
        ...GOOD_PLAN,
        {
          op: 'run',
          argv: [
            'node',
            '-e',
            "require('fs').writeFileSync('src/blob.bin', require('crypto').randomBytes(210 * 2 ** 20))",
          ],
          timeoutSeconds: 120,
        },
      ],
    });
    assert.equal(r.final.state, 'FAILED', JSON.stringify(r.final.error));
    assert.equal(r.final.error?.type, 'PolicyViolationError', JSON.stringify(r.final.error));
    assert.match(r.final.error?.message ?? '', /the change makes git print more than 256 MiB/);
    assertNotDelivered(r);
  });
});
