/**
 * Attack: a submitter choosing the base. The policy is read from the repository's trusted ref
 * (the branch HEAD names when the task starts, or `git config arbiter.policyRef`), never from
 * the submitter's `baseRef`: a base branch with the policy deleted or weakened still gets the
 * default branch's policy, whose failing command gate runs, and the verdict names the trusted
 * ref and commit it read the policy at.
 */
import assert from 'node:assert/strict';
import { writeFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { GOOD_PLAN, gitIn, makeRepo } from '../helpers/fixtures';
import { assertFailedByGate, branchWith, policyYaml, runTask, sha256 } from './helpers';

const FAILING = ['node', '-e', "console.error('the repository tests fail'); process.exit(1)"];
const STRONG = policyYaml({ gates: { tests: { mode: 'block', command: FAILING } } });

/** Commits `change` on a new branch `name` off the current HEAD, then returns to `back`. */
const policyFile = (repo: string) => path.join(repo, '.caws', 'policy.yaml');

const weakenings: Array<[string, (repo: string) => void]> = [
  ['the policy file deleted', (repo) => rmSync(policyFile(repo))],
  [
    'the gate turned off',
    (repo) => writeFileSync(policyFile(repo), policyYaml({ gates: { tests: { enabled: false } } })),
  ],
  [
    'the gate in warn mode',
    (repo) => writeFileSync(policyFile(repo), policyYaml({ gates: { tests: { mode: 'warn', command: FAILING } } })),
  ],
  [
    'the gate command replaced by one that passes',
    (repo) =>
      writeFileSync(
        policyFile(repo),
        policyYaml({ gates: { tests: { mode: 'block', command: ['node', '-e', 'process.exit(0)'] } } }),
      ),
  ],
  [
    'the policy replaced by an empty legacy one with huge budgets',
    (repo) =>
      writeFileSync(
        policyFile(repo),
        JSON.stringify({
          1: { max_files: 1e6, max_loc: 1e6 },
          2: { max_files: 1e6, max_loc: 1e6 },
          3: { max_files: 1e6, max_loc: 1e6 },
        }),
      ),
  ],
];

describe("governance: the policy comes from the repository's trusted ref, not the submitter's base", function () {
  this.timeout(120_000);

  for (const [what, weaken] of weakenings) {
    it(`baseRef = a branch with ${what}: the default branch's policy governs`, async () => {
      const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': STRONG });
      const mainCommit = gitIn(repo, 'rev-parse', 'main');
      const weakCommit = branchWith(repo, 'weak', 'main', weaken);
      const r = await runTask({ repo, baseRef: 'weak', steps: GOOD_PLAN });
      const { gate, payload } = await assertFailedByGate(r, 'tests');
      assert.equal(gate.source, 'policy');
      assert.deepEqual(gate.argv, FAILING, "the default branch's gate command ran");
      assert.equal(gate.exitCode, 1);
      assert.equal(r.final.workspace?.baseCommit, weakCommit, 'the change itself is still based on the submitted base');
      assert.match(
        payload.policy.ref,
        /(^|\/)main$/,
        `the verdict names the trusted ref, not the base: ${JSON.stringify(payload.policy)}`,
      );
      assert.doesNotMatch(payload.policy.ref, /weak/);
      assert.equal(payload.policy.commit, mainCommit, 'the policy was read at the trusted ref');
      assert.equal(payload.policy.digest, sha256(STRONG));
      assert.equal(payload.policy.file, '.caws/policy.yaml');
      assert.equal(payload.policy.source, 'current');
    });
  }

  it('baseRef = a commit id (not a branch) with the policy deleted: the default branch still governs', async () => {
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': STRONG });
    const weakCommit = branchWith(repo, 'tmp', 'main', (dir) => rmSync(policyFile(dir)));
    gitIn(repo, 'branch', '-D', 'tmp');
    const r = await runTask({ repo, baseRef: weakCommit, steps: GOOD_PLAN });
    const { payload } = await assertFailedByGate(r, 'tests');
    assert.equal(payload.policy.commit, gitIn(repo, 'rev-parse', 'main'));
    assert.equal(payload.policy.digest, sha256(STRONG));
  });

  it('git config arbiter.policyRef names the trusted ref: its policy governs even when HEAD has a weakened one', async () => {
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': STRONG });
    const releaseCommit = gitIn(repo, 'rev-parse', 'main');
    gitIn(repo, 'branch', 'release');
    // main (HEAD) weakens its policy afterwards; the operator pinned the policy to `release`.
    writeFileSync(policyFile(repo), policyYaml({ gates: { tests: { enabled: false } } }));
    gitIn(repo, 'commit', '--quiet', '-am', 'weaken');
    gitIn(repo, 'config', 'arbiter.policyRef', 'release');
    const r = await runTask({ repo, steps: GOOD_PLAN });
    const { payload } = await assertFailedByGate(r, 'tests');
    assert.match(payload.policy.ref, /(^|\/)release$/, JSON.stringify(payload.policy));
    assert.equal(payload.policy.commit, releaseCommit);
    assert.equal(payload.policy.digest, sha256(STRONG));
  });

  it('control: without a baseRef the same repository fails the same gate, and the verdict names main', async () => {
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': STRONG });
    const r = await runTask({ repo, steps: GOOD_PLAN });
    const { payload } = await assertFailedByGate(r, 'tests');
    assert.match(payload.policy.ref, /(^|\/)main$/);
    assert.equal(payload.policy.commit, gitIn(repo, 'rev-parse', 'main'));
  });
});
