/**
 * Attack: a NUL byte in what PostgreSQL is asked to store. An agent's change that makes the
 * repository's check print one as it fails had its gate result refused by the database (text
 * cannot hold NUL): the task ended FAILED as the host's, with no FAIL counted against the agent.
 * Every text Arbiter stores now keeps a NUL as `\0`, so the gate fails as the agent's.
 */
import assert from 'node:assert/strict';
import { GOOD_PLAN } from '../helpers/fixtures';
import { assertFailedByGate, runTask } from './helpers';

describe('governance: NUL in what is stored', function () {
  this.timeout(120_000);

  it('a failing gate printing NUL fails as the gate, the agent charged, its output kept escaped', async () => {
    const r = await runTask({
      files: { 'src/app.js': 'module.exports = 1;\n' },
      gates: [{ name: 'check', argv: ['node', '-e', "process.stdout.write('broken\\0output'); process.exit(1)"] }],
      steps: GOOD_PLAN,
    });
    const { gate } = await assertFailedByGate(r, 'check');
    assert.match(gate.detail, /broken\\0output/);
  });
});
