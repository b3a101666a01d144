/**
 * The attacks a later review found, each played through the real lifecycle: a file name that is
 * not UTF-8 (gates would read one tree, delivery write another), a `.git` file naming another
 * repository on the host, a base branch carrying protected changes, a byte overrun dressed as a
 * waivable budget failure, and policy refs a submitter could steer (a linked worktree's HEAD, a
 * detached HEAD). A type change (file to symlink) is the honest control for the measurement.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { artifacts } from '../../db/schema';
import { GOOD_PLAN, gitIn, makeRepo } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import {
  assertFailedByGate,
  assertNotDelivered,
  branchWith,
  explain,
  gateOf,
  nodeStep,
  policyYaml,
  runTask,
  writeByCommand,
} from './helpers';

const FAILING_TESTS = policyYaml({ gates: { tests: { mode: 'block', command: ['node', '-e', 'process.exit(1)'] } } });

describe('governance: attacks found in review', function () {
  this.timeout(120_000);

  it('a file name that is not UTF-8 (required by its lossy spelling): tree fails, nothing delivered', async () => {
    const steps = [
      nodeStep(
        "const fs = require('fs'); fs.writeFileSync(Buffer.from('src/impl\\xff.js', 'latin1'), 'module.exports = 42;\\n');",
      ),
      writeByCommand({ 'src/main.js': "module.exports = require('./impl\uFFFD.js');\n" }),
    ];
    const r = await runTask({
      files: { 'src/app.js': 'x\n' },
      steps,
      gates: [{ name: 'check', argv: ['node', '-e', "require('./src/main.js') === 42 || process.exit(1)"] }],
    });
    await assertFailedByGate(r, 'tree', /src\/impl.*\.js has a name or target that is not valid UTF-8/);
  });

  it('a .git file naming another repository on the host: git never opens it, tree fails naming the folder', async () => {
    const secret = makeRepo({ 'secret.txt': 'host data\n' });
    const secretHead = gitIn(secret, 'rev-parse', 'HEAD');
    const steps = [
      ...GOOD_PLAN,
      writeByCommand({ 'src/sub/.git': `gitdir: ${path.join(secret, '.git')}\n`, 'src/sub/payload.js': 'x\n' }),
    ];
    const r = await runTask({ files: { 'src/app.js': 'x\n' }, steps });
    await assertFailedByGate(r, 'tree', /src\/sub holds a \.git of its own: a nested repository would be a gitlink/);
    const [patch] = await testStack()
      .database.db.select()
      .from(artifacts)
      .where(and(eq(artifacts.tenantId, r.tenant), eq(artifacts.taskId, r.input.taskId), eq(artifacts.kind, 'patch')));
    assert.doesNotMatch(
      Buffer.from(patch.content, 'base64').toString('utf8'),
      new RegExp(secretHead),
      'nothing of the host repository reached the patch',
    );
    assert.equal(r.final.diff?.filesChanged, 1, 'the nested folder is kept out of the tree');
  });

  it('a base branch that changed a protected path off the trusted ref: protected fails naming it', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', '.github/workflows/ci.yml': 'run: npm test\n' });
    branchWith(repo, 'feature', 'main', (dir) =>
      writeFileSync(path.join(dir, '.github/workflows/ci.yml'), 'run: echo\n'),
    );
    const r = await runTask({ repo, baseRef: 'feature', steps: GOOD_PLAN });
    await assertFailedByGate(
      r,
      'protected',
      /the base changes protected path\(s\) that are not on the trusted ref: \.github\/workflows\/ci\.yml/,
    );
  });

  it('a base off the trusted ref with unreviewed changes out of scope: scope fails naming them, and no retry is tried', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', 'lib/payments.js': 'module.exports = 1;\n' });
    branchWith(repo, 'unreviewed', 'main', (dir) =>
      writeFileSync(path.join(dir, 'lib/payments.js'), 'module.exports = 2;\n'),
    );
    const r = await runTask({ repo, baseRef: 'unreviewed', steps: GOOD_PLAN });
    const { gate } = await assertFailedByGate(
      r,
      'scope',
      /^the base changes path\(s\) out of scope that are not on the trusted ref: lib\/payments\.js \(not in scope\.in\)$/,
    );
    assert.equal(r.final.attempts.length, 0, `the agent cannot fix its base, so no retry: ${gate.detail}`);
  });

  it('a base off the trusted ref whose changes are in scope passes, its changes counted in the scope evidence', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n' });
    branchWith(repo, 'stacked', 'main', (dir) => writeFileSync(path.join(dir, 'src/app.js'), 'y\n'));
    const r = await runTask({ repo, baseRef: 'stacked', steps: GOOD_PLAN });
    assert.equal(r.final.state, 'COMPLETED', explain(r.final));
    assert.match(
      gateOf(r.final, 'scope').detail,
      /^1 changed path\(s\) within scope, and 1 the base changes off the trusted ref$/,
    );
  });

  it('a base branch behind the trusted ref (an older main) is not mistaken for one that changed protected paths', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', '.github/workflows/ci.yml': 'run: npm test\n' });
    const old = gitIn(repo, 'rev-parse', 'HEAD');
    writeFileSync(path.join(repo, '.github/workflows/ci.yml'), 'run: npm test -- --strict\n');
    gitIn(repo, 'commit', '--quiet', '-am', 'main moves on');
    const r = await runTask({ repo, baseRef: old, steps: GOOD_PLAN });
    assert.equal(r.final.state, 'COMPLETED', explain(r.final));
    assert.equal(gateOf(r.final, 'protected').status, 'pass');
  });

  it('a byte overrun with waivers enabled: no waiver is asked for, the task fails naming the byte budget', async () => {
    const policy = policyYaml({
      risk_tiers: { '3': { max_files: 10, max_loc: 100, max_bytes: 1000 } },
      waivers: { decision_window_hours: 1 },
    });
    const r = await runTask({
      files: { 'src/app.js': 'x\n', '.caws/policy.yaml': policy },
      steps: [writeByCommand({ 'src/blob.min.js': 'y'.repeat(5000) })],
    });
    assert.equal(r.final.state, 'FAILED', explain(r.final));
    assert.equal(r.final.error?.type, 'ByteBudgetNotWaivable', explain(r.final));
    assert.match(r.final.error?.message ?? '', /adds 5001 bytes, over the byte budget of 1000, which no waiver raises/);
    assert.match(gateOf(r.final, 'budget').detail, /5001\/1000 bytes/);
    assertNotDelivered(r);
  });

  // Once judged by the main repository's policy; now refused outright, before any agent runs (it shares that one's refs).
  it('a linked worktree as the target (registered before repos add refused one) fails the task before any agent runs', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': FAILING_TESTS });
    gitIn(repo, 'branch', 'scratch');
    const worktree = `${repo}-scratch`;
    gitIn(repo, 'worktree', 'add', '--quiet', worktree, 'scratch');
    gitIn(worktree, 'rm', '--quiet', '.caws/policy.yaml');
    gitIn(worktree, 'commit', '--quiet', '-m', 'no policy here');
    const r = await runTask({ repo: worktree, steps: GOOD_PLAN });
    assert.equal(r.final.state, 'FAILED', explain(r.final));
    assert.equal(r.final.error?.type, 'TargetRepoError');
    assert.match(r.final.error?.message ?? '', /is not a repository's own top/);
    assert.equal(r.final.routing, null, 'refused before any agent ran');
    assertNotDelivered(r);
  });

  it('a target whose HEAD is detached names no policy branch: the task fails saying how to set one', async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': FAILING_TESTS });
    gitIn(repo, 'checkout', '--quiet', '--detach');
    const r = await runTask({ repo, steps: GOOD_PLAN });
    assert.equal(r.final.state, 'FAILED', explain(r.final));
    assert.equal(r.final.error?.type, 'TargetRepoError');
    assert.match(r.final.error?.message ?? '', /HEAD of .* is detached.*set arbiter\.policyRef/);
    assert.equal(r.final.routing, null, 'refused before any agent ran');
  });

  it("the repository's own .gitattributes do not change the measurement either (no index, no work tree is read)", async () => {
    const r = await runTask({
      files: { 'src/notes.txt': 'a\n', '.gitattributes': '*.txt binary\n' },
      steps: [writeByCommand({ 'src/notes.txt': 'a\nb\nc\n' })],
    });
    assert.equal(r.final.state, 'COMPLETED', explain(r.final));
    assert.deepEqual(
      [r.final.diff?.binaryFiles, r.final.diff?.linesAdded],
      [0, 2],
      'a text file stays text, whatever the attributes say',
    );
  });

  it('control: a file turned into a symlink (a type change) is measured and delivered when symlinks are allowed', async () => {
    const policy = policyYaml({ arbiter: { allow_symlinks: true } });
    const steps = [
      writeByCommand({ 'src/real.js': 'module.exports = 1;\n' }),
      nodeStep("const fs = require('fs'); fs.unlinkSync('src/app.js'); fs.symlinkSync('real.js', 'src/app.js');"),
    ];
    const r = await runTask({ files: { 'src/app.js': 'module.exports = 0;\n', '.caws/policy.yaml': policy }, steps });
    assert.equal(r.final.state, 'COMPLETED', explain(r.final));
    assert.match(gitIn(r.repo, 'ls-tree', `arbiter/${r.input.taskId}`, 'src/app.js'), /^120000 blob /);
    assert.equal(r.final.diff?.filesChanged, 2);
  });
});
