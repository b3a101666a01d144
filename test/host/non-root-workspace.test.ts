/**
 * Attack, for a worker that does not run as root (the shipped image's `arbiter` user): its
 * commands run as the worker's own user, so a command can take the read bit off a folder it made.
 * `du` then skipped that folder and exited 1 with a total that left it out, which the quota took
 * as a file that vanished: 5 MiB and more entries than allowed went unseen. And neither `fs.rm`
 * nor `rm -rf` could empty the folder, so every reset of the workspace failed and the sweep never
 * freed it. Played as another user (the test runs as root) with Arbiter's own compiled code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { runningAsRoot } from '../../host/sandbox/config';
import { traversableTempDir } from '../helpers/temp';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const NOBODY = 65534;

/** Copies what the quota and removal need (the compiled host and domain modules, zod) where `NOBODY` can read it. */
function codeFor(dir: string): string {
  for (const part of ['lib/host', 'lib/domain', 'node_modules/zod'])
    cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  return path.join(dir, 'lib', 'host');
}

describe('host: a workspace of a worker that is not root', function () {
  this.timeout(60_000);

  it('a folder its command made unreadable is not left out of the quota, and is removed', function () {
    if (!runningAsRoot()) this.skip();
    const dir = traversableTempDir('arbiter-nonroot-');
    const host = codeFor(dir);
    const ws = path.join(dir, 'ws');
    mkdirSync(ws);
    spawnSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
    chownSync(dir, NOBODY, NOBODY);
    const script = `
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
      })();`;
    const run = spawnSync(
      'setpriv',
      [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'node', '-e', script],
      {
        encoding: 'utf8',
        cwd: dir,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    const { quota, removed } = JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
    assert.match(quota.error ?? '', /du/, `the folder went unmeasured, not passed: ${JSON.stringify(quota)}`);
    assert.equal(removed, 'removed');
    assert.equal(existsSync(path.join(ws, 'hide')), false);
  });
});
