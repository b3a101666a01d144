/**
 * Attacks: a change too large for git to print, and a tree too large for git to print in one read.
 * - A 210 MiB random file makes a `--binary` patch of about 280 MiB, past the 256 MiB git may
 *   print for Arbiter; measuring it failed as if the host had, was retried and ended FAILED with
 *   no FAIL counted against the agent. It is now the agent's `PolicyViolationError`, at once, and
 *   nothing is delivered.
 * - A compressible file just under 256 MiB (its binary patch deflated, its text patch one line)
 *   measures, and fails the budget; but each command gate's checkout read every blob of the tree
 *   in one `git cat-file --batch` call, past 256 MiB with the base's files: git was stopped, and
 *   the gate failed as the host's, 18 times, then the task FAILED with no verdict and no FAIL
 *   counted. The checkout now reads a batch of bounded size at a time: the gate runs, and the
 *   task ends with the agent's signed FAIL.
 */
import assert from 'node:assert/strict';
import { GOOD_PLAN } from '../helpers/fixtures';
import {
  assertFailedByGate,
  assertNotDelivered,
  explain,
  gateOf,
  policyYaml,
  runStep,
  runTask,
  tasksAndFailures,
} from './helpers';

/** The base's files beside the agent's: 1 MiB more than the agent's file falls short of 256 MiB. */
const BASE = {
  'src/app.js': 'module.exports = 1;\n',
  'docs/base.txt': 'b'.repeat(2 ** 20),
  '.caws/policy.yaml': policyYaml({
    arbiter: { max_attempts: 1 },
    gates: { check: { mode: 'block', command: ['true'] } },
  }),
};

/** Writes 64 KiB short of 256 MiB of a pattern holding NUL (and no line end) to `src/blob.bin`. */
const WRITE_COMPRESSIBLE =
  "require('fs').writeFileSync('src/blob.bin', Buffer.alloc(256 * 2 ** 20 - 2 ** 16, 'arbiter\\0'))";

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

  it("a tree git cannot print in one read is gated, and ends in the agent's signed FAIL", async () => {
    const r = await runTask({
      files: BASE,
      spec: { scope: { in: ['src/'], out: [] } },
      steps: [...GOOD_PLAN, runStep(['node', '-e', WRITE_COMPRESSIBLE], 120)],
    });
    await assertFailedByGate(r, 'budget', / \d{9}\/\d+ bytes/);
    assert.equal(gateOf(r.final, 'check').status, 'pass', explain(r.final));
    const [[tasks, failures]] = await tasksAndFailures(r.tenant);
    assert.equal(tasks, 1, 'the task is counted for the agent');
    assert.ok(failures > 0, `the FAIL is counted against the agent (failures ${failures})`);
  });
});
