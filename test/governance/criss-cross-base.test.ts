/**
 * A base whose history crosses the trusted ref's twice (each merged the other): the two have two
 * merge bases, `git merge-base` prints one, and a merge of the delivered branch uses both. Judged
 * from the one git printed, a base that put the old policy back changed nothing protected, and
 * merging its delivery reverted the policy on the trusted ref. (A submitter's attack, found in review.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { GOOD_PLAN, gitIn, makeRepo, tempDir } from '../helpers/fixtures';
import { assertFailedByGate, explain, gateOf, policyYaml, runTask } from './helpers';

const LAX = policyYaml({});
const STRICT = policyYaml({ gates: { tests: { mode: 'block', command: ['node', '-e', 'process.exit(0)'] } } });
const APP = { 'src/app.js': 'module.exports = 1;\n' };

/** A commit of exactly `files` on `parents`, made at `date` (git picks which merge base it prints by date). */
function commitOf(repo: string, files: Record<string, string>, parents: string[], date: string): string {
  const work = tempDir('arbiter-criss-cross-');
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
    writeFileSync(path.join(work, file), content);
  }
  const env = {
    ...process.env,
    GIT_INDEX_FILE: path.join(work, '.index'),
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
  const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { env, encoding: 'utf8' }).trim();
  git(`--work-tree=${work}`, 'add', '--all', '--', ':!.index');
  const tree = git('write-tree');
  return git('commit-tree', tree, ...parents.flatMap((p) => ['-p', p]), '-m', `at ${date}`);
}

/**
 * main merges X1 (an unrelated file) and Y1 (a stricter policy); `feature` merges them the other
 * way round, its policy `featurePolicy`. X1 is the newer, so the merge base git prints is X1,
 * from which `feature`'s policy did not change.
 */
function crissCross(featurePolicy: string): string {
  const repo = makeRepo({ ...APP, '.caws/policy.yaml': LAX });
  const root = gitIn(repo, 'rev-parse', 'HEAD');
  const y1 = commitOf(repo, { ...APP, '.caws/policy.yaml': STRICT }, [root], '2024-01-02T00:00:00Z');
  const both = { ...APP, 'src/other.js': 'x\n' };
  const x1 = commitOf(repo, { ...both, '.caws/policy.yaml': LAX }, [root], '2024-01-03T00:00:00Z');
  const main = commitOf(repo, { ...both, '.caws/policy.yaml': STRICT }, [x1, y1], '2024-01-04T00:00:00Z');
  const feature = commitOf(repo, { ...both, '.caws/policy.yaml': featurePolicy }, [y1, x1], '2024-01-05T00:00:00Z');
  gitIn(repo, 'update-ref', 'refs/heads/main', main);
  gitIn(repo, 'update-ref', 'refs/heads/feature', feature);
  gitIn(repo, 'reset', '--quiet', '--hard', 'main');
  assert.equal(gitIn(repo, 'merge-base', 'main', 'feature'), x1, 'git prints the merge base that hides the revert');
  assert.equal(gitIn(repo, 'merge-base', '--all', 'main', 'feature').split('\n').length, 2);
  return repo;
}

describe('a base with a criss-cross history', function () {
  this.timeout(180_000);

  it('one that puts the old policy back fails protected naming it, however git orders the merge bases', async () => {
    const r = await runTask({ repo: crissCross(LAX), baseRef: 'feature', steps: GOOD_PLAN });
    await assertFailedByGate(r, 'protected', /not on the trusted ref: \.caws\/policy\.yaml/);
  });

  it('one that agrees with the trusted ref where the other merge base differs (an honest merge) passes', async () => {
    const r = await runTask({ repo: crissCross(STRICT), baseRef: 'feature', steps: GOOD_PLAN });
    assert.equal(r.final.state, 'COMPLETED', explain(r.final));
    assert.equal(gateOf(r.final, 'protected').status, 'pass', explain(r.final));
  });
});
