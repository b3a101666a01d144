/**
 * Attack: a NUL byte in what PostgreSQL is asked to store. An agent's change that makes the
 * repository's check print one as it fails had its gate result refused by the database (text
 * cannot hold NUL): the task ended FAILED as the host's, with no FAIL counted against the agent.
 * Every text Arbiter stores now keeps a NUL as `\0`, so the gate fails as the agent's. And a
 * submitter's NUL quoted in a failure's message never reached the provenance event that records the
 * end (jsonb refuses JSON's `\u0000`): the run retried that write for good and never ended.
 */
import assert from 'node:assert/strict';
import { verifyProvenance } from '../../db/provenance';
import { GOOD_PLAN } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
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

  it("a spec refused for a key holding NUL ends REJECTED, the end's provenance event kept escaped", async () => {
    const r = await runTask({ spec: { non_functional: { 'perf\0ormance': ['fast'] } }, steps: GOOD_PLAN });
    const error = JSON.stringify(r.final.error);
    assert.equal(r.final.state, 'REJECTED', error);
    assert.match(error, /non_functional\.perf(\\\\0|\\u0000)ormance/);
    const { problems } = await verifyProvenance(testStack().database.db, r.tenant);
    assert.deepEqual(problems, [], 'the chain holds the escaped event intact');
  });
});
