/**
 * Attacks, for a worker that does not run as root (the shipped image's `arbiter` user): its
 * commands run as the worker's own user, so a command can take the bits off what it made.
 * - Off a folder: `du` then skipped that folder and exited 1 with a total that left it out, which
 *   the quota took as a file that vanished: 5 MiB and more entries than allowed went unseen. And
 *   neither `fs.rm` nor `rm -rf` could empty the folder, so every reset of the workspace failed
 *   and the sweep never freed it.
 * - Off a folder and a file, as the agent's last command: measuring the change failed on them
 *   (the walk's `opendir`, `git add`) with EACCES, retried as the host's failure 18 times, and the
 *   task failed with no FAIL counted against the agent. The owner's bits are now given back first,
 *   and the change is measured as made.
 * Played as another user (the test runs as root) with Arbiter's own compiled code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { runningAsRoot } from '../../host/sandbox/config';
import { traversableTempDir } from '../helpers/temp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const NOBODY = 65534;

/** Copies the package `name` and those it depends on from the checkout's node_modules to `dir`'s. */
function copyPackage(dir: string, name: string, copied = new Set<string>()): void {
  const from = path.join(ROOT, 'node_modules', name);
  if (copied.has(name) || !existsSync(from)) return; // one a package nests is copied with it
  copied.add(name);
  cpSync(from, path.join(dir, 'node_modules', name), { recursive: true });
  const { dependencies = {} } = JSON.parse(readFileSync(path.join(from, 'package.json'), 'utf8'));
  for (const dependency of Object.keys(dependencies)) copyPackage(dir, dependency, copied);
}

/**
 * A folder `NOBODY` owns holding what the quota, removal and measurement need (the compiled host
 * and domain modules, zod and Temporal's errors), and an empty `ws`; the folder and the compiled host's path.
 */
function nobodysFolder(): { dir: string; host: string; ws: string } {
  const dir = traversableTempDir('arbiter-nonroot-');
  for (const part of ['lib/host', 'lib/domain'])
    cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  for (const name of ['zod', '@temporalio/common']) copyPackage(dir, name);
  const ws = path.join(dir, 'ws');
  mkdirSync(ws);
  spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  chownSync(dir, NOBODY, NOBODY);
  return { dir, host: path.join(dir, 'lib', 'host'), ws };
}

/** Runs `script` with node as `NOBODY` in `dir`; what it printed last, as JSON. */
function asNobody(dir: string, script: string): Record<string, unknown> {
  const run = spawnSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'node', '-e', script], {
    encoding: 'utf8',
    cwd: dir,
    env: { ...process.env, HOME: dir },
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
}

/**
 * `readWorkspace` run as nobody on a workspace whose base holds src/app.js, after `agent` (a
 * script with `fs`, `path` and `tree` in scope) changed it: the files measured, or the error's type and words.
 */
function measuredAsNobody(agent: string): Record<string, unknown> {
  const { dir, host, ws } = nobodysFolder();
  return asNobody(
    dir,
    `
    const fs = require('fs'), path = require('path'), { execFileSync } = require('child_process');
    const { readWorkspace } = require(${JSON.stringify(path.join(host, 'measure.js'))});
    const tree = path.join(${JSON.stringify(ws)}, 'tree'), gitDir = path.join(${JSON.stringify(ws)}, 'git');
    const git = (...args) => execFileSync('git', ['--git-dir=' + gitDir, '--work-tree=' + tree,
      '-c', 'user.name=t', '-c', 'user.email=t@localhost', ...args], { cwd: tree, encoding: 'utf8' }).trim();
    fs.mkdirSync(path.join(tree, 'src'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'src/app.js'), 'module.exports = 1;\\n');
    git('init', '--quiet');
    git('add', '--all');
    git('commit', '--quiet', '-m', 'base');
    const base = git('rev-parse', 'HEAD');
    ${agent}
    readWorkspace({ tree, gitDir }, base, { maxEntries: 1000 }).then(
      (r) => console.log(JSON.stringify({ files: r.files.map((f) => [f.path, f.added, f.deleted]) })),
      (e) => console.log(JSON.stringify({ type: e.type ?? e.name, error: e.name + ': ' + e.message })),
    );`,
  );
}

describe('host: a workspace of a worker that is not root', function () {
  this.timeout(60_000);

  it('a folder its command made unreadable is not left out of the quota, and is removed', function () {
    if (!runningAsRoot()) this.skip();
    const { dir, host, ws } = nobodysFolder();
    const { quota, removed } = asNobody(
      dir,
      `
      const fs = require('fs'), path = require('path');
      const { pastQuota } = require(${JSON.stringify(path.join(host, 'sandbox', 'workspace-quota.js'))});
      const { removeTree } = require(${JSON.stringify(path.join(host, 'remove-tree.js'))});
      const hide = path.join(${JSON.stringify(ws)}, 'hide');
      fs.mkdirSync(hide);
      fs.writeFileSync(path.join(hide, 'big'), Buffer.alloc(5 * 1024 * 1024, 1));
      for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(hide, 'f' + i), '');
      fs.chmodSync(hide, 0o300);
      (async () => {
        const limits = { workspaceBytes: 1024 * 1024, workspaceEntries: 20 };
        const quota = await pastQuota(${JSON.stringify(ws)}, limits, true).then((r) => ({ reason: r }), (e) => ({ error: e.message }));
        const removed = await removeTree(hide).then(() => 'removed', (e) => e.message);
        console.log(JSON.stringify({ quota, removed }));
      })();`,
    ) as { quota: { error?: string }; removed: string };
    assert.match(quota.error ?? '', /du/, `the folder went unmeasured, not passed: ${JSON.stringify(quota)}`);
    assert.equal(removed, 'removed');
    assert.equal(existsSync(path.join(ws, 'hide')), false);
  });

  // Found in review: forgiven four times a command by the watchdog's check, such a folder passed every exit check.
  it('a folder its command made unreadable is past the quota at the exit check; the watchdog forgives it once', function () {
    if (!runningAsRoot()) this.skip();
    const { dir, host, ws } = nobodysFolder();
    const { settled, polled } = asNobody(
      dir,
      `
      const fs = require('fs'), path = require('path');
      const { quotaCheck, settledQuotaProblem } = require(${JSON.stringify(path.join(host, 'sandbox', 'workspace-quota.js'))});
      const hide = path.join(${JSON.stringify(ws)}, 'hide');
      fs.mkdirSync(hide);
      fs.writeFileSync(path.join(hide, 'big'), Buffer.alloc(5 * 1024 * 1024, 1));
      fs.chmodSync(hide, 0o300);
      (async () => {
        const limits = { workspaceBytes: 100 * 1024 * 1024, workspaceEntries: 1000 };
        const options = { countEntries: true };
        const settled = await settledQuotaProblem(${JSON.stringify(ws)}, limits, options);
        const polled = (await quotaCheck(${JSON.stringify(ws)}, limits, options)()) ?? null;
        fs.chmodSync(hide, 0o700);
        console.log(JSON.stringify({ settled, polled }));
      })();`,
    ) as { settled?: string; polled: string | null };
    assert.match(settled ?? '', /^the workspace could not be measured: /, JSON.stringify(settled));
    assert.equal(polled, null, 'a running command is stopped only after five failures in a row');
  });

  it('a folder and a file its last command made unreadable are measured as made, not failed on', function () {
    if (!runningAsRoot()) this.skip();
    const read = measuredAsNobody(`
      // The agent's change, and its last command: chmod 000 src/lib src/app.js
      fs.mkdirSync(path.join(tree, 'src/lib'));
      fs.writeFileSync(path.join(tree, 'src/lib/util.js'), 'module.exports = 2;\\n');
      fs.writeFileSync(path.join(tree, 'src/app.js'), 'module.exports = 3;\\n');
      fs.chmodSync(path.join(tree, 'src/lib'), 0);
      fs.chmodSync(path.join(tree, 'src/app.js'), 0);`);
    assert.equal(read.error, undefined, 'measuring failed');
    assert.deepEqual(read.files, [
      ['src/app.js', 1, 1],
      ['src/lib/util.js', 1, 0],
    ]);
  });

  // Before: chmod was handed the whole path, which the kernel refused, and the error was the host's.
  it("a file made unreadable past the kernel's path length is the agent's violation, not the host's failure", function () {
    if (!runningAsRoot()) this.skip();
    const read = measuredAsNobody(`
      // The agent's last commands: folders nested past 4096 bytes by relative steps, and a file there mode 0200.
      process.chdir(tree);
      for (let i = 0; i < 25; i++) { fs.mkdirSync('d'.repeat(200)); process.chdir('d'.repeat(200)); }
      fs.writeFileSync('f', 'x', { mode: 0o200 });
      process.chdir('/');`);
    assert.equal(read.type, 'PolicyViolationError', JSON.stringify(read));
  });
});
