/**
 * Attack: a tree whose entries are not plain files. A symlink (made by a command) pointing
 * outside the tree — at a host file or up through `..` — or any symlink when the policy does
 * not allow them; a gitlink from a nested repository the agent `git init`s and commits in. The
 * `tree` gate fails naming the entry; a symlink inside the tree passes when the policy allows.
 */
import assert from 'node:assert/strict';
import { symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { GOOD_PLAN, gitIn, makeRepo } from '../helpers/fixtures';
import { assertFailedByGate, gateOf, nodeStep, policyYaml, runTask, type Attack } from './helpers';

const ALLOW = policyYaml({ arbiter: { allow_symlinks: true } });

function files(policy?: string): Record<string, string> {
  return {
    'src/app.js': 'module.exports = 1;\n',
    'README.md': '# target\n',
    ...(policy ? { '.caws/policy.yaml': policy } : {}),
  };
}

/** A plan that makes `link` a symlink to `target` with a command (the file tools cannot). */
function symlinkPlan(link: string, target: string): Attack['steps'] {
  return [...GOOD_PLAN, nodeStep(`require('fs').symlinkSync(${JSON.stringify(target)}, ${JSON.stringify(link)})`)];
}

/** The plan's nested repository: `git init` and a commit inside src/sub, by the agent's command. */
const NESTED_REPO = nodeStep(
  [
    "const fs = require('fs'), { execFileSync } = require('child_process');",
    "fs.mkdirSync('src/sub', { recursive: true });",
    "fs.writeFileSync('src/sub/payload.js', 'module.exports = \"not reviewed\";\\n');",
    "const git = (...a) => execFileSync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@localhost', ...a], { cwd: 'src/sub', stdio: 'inherit' });",
    "git('init', '--quiet'); git('add', '.'); git('commit', '--quiet', '-m', 'hidden');",
  ].join('\n'),
);

describe('governance: the tree holds plain files only', function () {
  this.timeout(120_000);

  it('a symlink to a host file, without allow_symlinks: tree fails naming the symlink', async () => {
    const r = await runTask({ files: files(), steps: symlinkPlan('src/leak', '/etc/passwd') });
    const { gate } = await assertFailedByGate(r, 'tree', /symlink/);
    assert.equal(gate.source, 'arbiter');
    assert.match(gate.detail, /src\/leak/);
  });

  it('a symlink inside the tree, without allow_symlinks: tree fails naming the symlink', async () => {
    const r = await runTask({ files: files(), steps: symlinkPlan('src/alias.js', 'app.js') });
    const { gate } = await assertFailedByGate(r, 'tree', /symlink/);
    assert.match(gate.detail, /src\/alias\.js/);
  });

  it('a symlink to /etc/passwd with allow_symlinks: tree fails, outside the tree', async () => {
    const r = await runTask({ files: files(ALLOW), steps: symlinkPlan('src/leak', '/etc/passwd') });
    const { gate } = await assertFailedByGate(r, 'tree', /outside the tree/);
    assert.match(gate.detail, /src\/leak/);
  });

  it('a relative symlink climbing out (src/leak -> ../../x) with allow_symlinks: tree fails, outside the tree', async () => {
    const r = await runTask({ files: files(ALLOW), steps: symlinkPlan('src/leak', '../../x') });
    const { gate } = await assertFailedByGate(r, 'tree', /outside the tree/);
    assert.match(gate.detail, /src\/leak/);
  });

  it("a directory symlink to the tree root's parent (src/up -> ..//..) with allow_symlinks: tree fails, outside the tree", async () => {
    const r = await runTask({ files: files(ALLOW), steps: symlinkPlan('src/up', '..//..') });
    const { gate } = await assertFailedByGate(r, 'tree', /outside the tree/);
    assert.match(gate.detail, /src\/up/);
  });

  it('a new symlink escaping by way of a tracked one (src/root -> .. exists; src/leak -> root/../x) with allow_symlinks: outside the tree', async () => {
    const repo = makeRepo(files(ALLOW));
    symlinkSync('..', path.join(repo, 'src', 'root'));
    gitIn(repo, 'add', '--all');
    gitIn(repo, 'commit', '--quiet', '-m', 'a link to the repository root');
    const r = await runTask({ repo, steps: symlinkPlan('src/leak', 'root/../x') });
    const { gate } = await assertFailedByGate(r, 'tree', /outside the tree/);
    assert.match(gate.detail, /src\/leak/);
    assert.doesNotMatch(gate.detail, /src\/root\b/, 'the tracked, unchanged link is not the change');
  });

  it('control: a symlink inside the tree with allow_symlinks passes and is delivered as a symlink', async () => {
    const r = await runTask({ files: files(ALLOW), steps: symlinkPlan('src/alias.js', 'app.js') });
    assert.equal(gateOf(r.final, 'tree').status, 'pass', gateOf(r.final, 'tree').detail);
    assert.equal(r.final.state, 'COMPLETED', JSON.stringify(r.final.gates.map((g) => [g.name, g.status, g.detail])));
    const entry = gitIn(r.repo, 'ls-tree', `arbiter/${r.input.taskId}`, 'src/alias.js');
    assert.match(entry, /^120000 blob /, 'the delivered entry is a symlink');
  });

  it('with allow_symlinks, a symlink standing for a protected folder (.github -> ci/gh) fails protected', async () => {
    const r = await runTask({
      files: files(ALLOW),
      spec: { scope: { in: ['src/', 'ci/', '.github'], out: [] } },
      steps: [
        ...GOOD_PLAN,
        nodeStep(
          "const fs = require('fs'); fs.mkdirSync('ci/gh/workflows', { recursive: true }); fs.writeFileSync('ci/gh/workflows/evil.yml', 'on: push\\n'); fs.symlinkSync('ci/gh', '.github')",
        ),
      ],
    });
    await assertFailedByGate(
      r,
      'protected',
      /symlink standing for a protected folder: \.github.*changed where \.github shows a protected path: ci\/gh\/workflows\/evil\.yml/,
    );
    assert.equal(gateOf(r.final, 'tree').status, 'pass', 'the link itself resolves inside the tree');
  });

  it('a nested repository (git init + commit in src/sub by a command): tree fails naming the gitlink', async () => {
    const r = await runTask({ files: files(), steps: [...GOOD_PLAN, NESTED_REPO] });
    const { gate } = await assertFailedByGate(r, 'tree', /gitlink/);
    assert.equal(gate.source, 'arbiter');
    assert.match(gate.detail, /src\/sub/);
  });

  it('a nested repository is refused even when the policy allows symlinks', async () => {
    const r = await runTask({ files: files(ALLOW), steps: [...GOOD_PLAN, NESTED_REPO] });
    const { gate } = await assertFailedByGate(r, 'tree', /gitlink/);
    assert.match(gate.detail, /src\/sub/);
  });
});
