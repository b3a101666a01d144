/**
 * Escape suite, git: writing `.git/hooks/*` and `.git/config` through the file tools (refused)
 * and through a command (it may make files in the tree, but the real git dir and the target
 * never change, and no hook, fsmonitor or forged git dir ever runs when verification measures
 * the diff on the host).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { gitIn } from '../helpers/fixtures';
import {
  assertHostDirUnchanged,
  fingerprint,
  gitControlFingerprint,
  hostDir,
  OPEN_POLICY,
  sandboxTask,
} from './escape-helpers';

/** A shell script (run inside the sandbox) that plants `content` at `file` in the tree. */
function plant(file: string, content: string, mode = '644'): string {
  return `mkdir -p "$(dirname '${file}')" && printf '%s' '${content}' > '${file}' && chmod ${mode} '${file}'`;
}

describe('sandbox escapes: git', function () {
  this.timeout(60_000);

  it('file tools refuse .git/hooks, .git/config, nested .git and hook folders', async () => {
    const h = hostDir();
    const t = await sandboxTask();
    const git = fingerprint(t.gitDir);
    const target = fingerprint(t.repo);
    const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
    const hook = `#!/bin/sh\ntouch ${h.missing}\n`;
    for (const p of [
      '.git/hooks/pre-commit',
      '.git/hooks/post-checkout',
      '.git/config',
      '.git',
      '.git/HEAD',
      'src/.git',
      'src/.git/config',
      'src/sub/.git/hooks/pre-commit',
      '.githooks/pre-commit',
      '.husky/pre-commit',
      './.git/config',
      'src/../.git/config',
    ]) {
      await t.expectRefused('file_write', () => t.tools.fileWrite({ ...c, path: p, content: hook }));
    }
    await t.expectRefused('file_search_replace', () =>
      t.tools.fileSearchReplace({ ...c, path: '.git/config', search: 'bare', replace: 'fsmonitor' }),
    );
    await t.expectRefused('file_delete', () => t.tools.fileDelete({ ...c, path: '.git/HEAD' }));
    await t.expectRefused('file_read', () => t.tools.fileRead({ ...c, path: '.git/config' }));
    await t.expectRefused('list_files', () => t.tools.listFiles({ ...c, path: '.git' }));
    // Tier 1 protects more plumbing.
    await t.expectRefused('file_write', () =>
      t.tools.fileWrite({
        ...c,
        policy: { ...OPEN_POLICY, riskTier: 1 },
        path: '.gitattributes',
        content: '* filter=evil\n',
      }),
    );

    assert.equal(existsSync(path.join(t.tree, '.git')), false, 'no .git appears in the tree');
    assert.equal(existsSync(path.join(t.tree, 'src', '.git')), false);
    assert.deepEqual(fingerprint(t.gitDir), git, 'the workspace git dir is unchanged');
    const diff = await t.measureDiff();
    assert.equal(diff.filesChanged, 0);
    assertHostDirUnchanged(h);
    assert.deepEqual(fingerprint(t.repo), target, 'the target repository is unchanged');
    await t.release();
  });

  it('a command planting hooks, fsmonitor and config in .git changes nothing real and nothing runs', async () => {
    const h = hostDir();
    const t = await sandboxTask();
    const gitControl = gitControlFingerprint(t.gitDir);
    const target = fingerprint(t.repo);
    const targetHead = gitIn(t.repo, 'rev-parse', 'HEAD');
    const fire = `#!/bin/sh\necho fired >> ${h.missing}\n`;
    const config = `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = ${h.missing}.fsmonitor\n\thooksPath = .git/hooks\n[diff]\n\texternal = ${path.join(t.tree, 'evil.sh')}\n`;
    const hooks = [
      'pre-commit',
      'post-commit',
      'post-checkout',
      'post-index-change',
      'reference-transaction',
      'fsmonitor-watchman',
    ];
    const script = [
      ...hooks.map((n) => plant(`.git/hooks/${n}`, fire, '755')),
      plant('.git/config', config),
      plant('.git/HEAD', 'ref: refs/heads/main\n'),
      plant('evil.sh', fire, '755'),
      plant('src/change.js', 'module.exports = 3;\n'),
      // Reaching for the real git dir (a sibling of the tree on the host) from inside.
      `for f in ../git/config /workspace/../git/config ${t.gitDir}/config ${t.repo}/.git/config; do printf x >> "$f" 2>/dev/null && echo "WROTE $f"; done; true`,
    ].join(' && ');
    const run = await t.run(['sh', '-c', script], { allowShell: true });
    assert.equal(run.exitCode, 0, run.outputTail);
    assert.doesNotMatch(run.outputTail, /WROTE/, 'no git dir outside the tree is writable from inside');
    await t.commandRow(run);
    assert.ok(
      existsSync(path.join(t.tree, '.git', 'hooks', 'pre-commit')),
      'the command did plant its files in the tree',
    );
    assert.deepEqual(gitControlFingerprint(t.gitDir), gitControl, 'the real git dir is unchanged by the command');

    const diff = await t.measureDiff();
    assert.equal(diff.filesChanged, 2, 'only src/change.js and evil.sh are measured, not the planted .git');
    assert.equal(existsSync(h.missing), false, 'no hook ran on the host');
    assert.equal(existsSync(`${h.missing}.fsmonitor`), false, 'no fsmonitor ran on the host');
    assertHostDirUnchanged(h);
    assert.deepEqual(
      gitControlFingerprint(t.gitDir),
      gitControl,
      'config and hooks of the real git dir are unchanged after measuring',
    );
    const hooksDir = path.join(t.gitDir, 'hooks');
    assert.deepEqual(
      (existsSync(hooksDir) ? readdirSync(hooksDir) : []).filter((n) => !n.endsWith('.sample')),
      [],
      'no live hook in the real git dir',
    );
    assert.deepEqual(fingerprint(t.repo), target, 'the target repository is unchanged');
    assert.equal(gitIn(t.repo, 'rev-parse', 'HEAD'), targetHead);
    assert.equal(gitIn(t.repo, 'status', '--porcelain'), '');
    await t.release();
  });

  it('a forged .git file pointing at a planted git dir (root and nested) is never used', async () => {
    const h = hostDir();
    const t = await sandboxTask();
    const gitControl = gitControlFingerprint(t.gitDir);
    const target = fingerprint(t.repo);
    const fire = `#!/bin/sh\necho fired >> ${h.missing}\n`;
    const evilConfig = `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tfsmonitor = ${path.join(t.tree, 'evil-git', 'hooks', 'pre-commit')}\n`;
    const forge = (dir: string) => [
      plant(`${dir}/evil-git/HEAD`, 'ref: refs/heads/main\n'),
      plant(`${dir}/evil-git/config`, evilConfig),
      `mkdir -p ${dir}/evil-git/objects ${dir}/evil-git/refs/heads`,
      ...['pre-commit', 'post-checkout', 'post-index-change'].map((n) =>
        plant(`${dir}/evil-git/hooks/${n}`, fire, '755'),
      ),
      plant(`${dir}/.git`, 'gitdir: evil-git\n'),
    ];
    const script = [...forge('.'), ...forge('src/nested'), plant('src/nested/file.js', 'x\n')].join(' && ');
    const run = await t.run(['sh', '-c', script], { allowShell: true });
    assert.equal(run.exitCode, 0, run.outputTail);
    await t.commandRow(run);

    // git refuses to add a nested repository without a commit; failing is fine, running anything is not.
    await t.measureDiff().catch((err: Error) => assert.match(err.message, /does not have a commit checked out/));
    assert.equal(existsSync(h.missing), false, 'nothing from the forged git dirs ran on the host');
    assertHostDirUnchanged(h);
    assert.deepEqual(gitControlFingerprint(t.gitDir), gitControl, 'the real git dir keeps its config and hooks');
    assert.deepEqual(fingerprint(t.repo), target, 'the target repository is unchanged');
    await t.release();
  });
});
