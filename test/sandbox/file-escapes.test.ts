/**
 * Escape suite, file tools: path traversal in every tool, symlinks committed in the target or
 * made by a command, and hardlinks. Every case runs against a real prepared workspace and the
 * real bwrap sandbox, fails if the escape succeeds, proves the host unchanged and finds the
 * attempt in the task's sandbox_events.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileToolError } from '../../domain/errors';
import { gitIn, makeRepo } from '../helpers/fixtures';
import {
  assertHostDirUnchanged,
  fingerprint,
  hostDir,
  OPEN_POLICY,
  sandboxTask,
  type HostDir,
  type SandboxTask,
} from './escape-helpers';

describe('sandbox escapes: file tools', function () {
  this.timeout(60_000);

  /** Paths that must never resolve for a file: the sibling git dir, the host sentinel, NUL, backslashes. */
  function badFilePaths(t: SandboxTask, h: HostDir): string[] {
    return [
      '../git/config',
      './../git/config',
      'src/../../git/HEAD',
      '..\\git\\config',
      path.relative(t.tree, h.sentinel),
      h.sentinel,
      path.join(t.tree, 'src', 'app.js'),
      'src/app.js\0../../git/config',
    ];
  }

  function badDirPaths(t: SandboxTask, h: HostDir): string[] {
    return ['..', '../git', 'src/../..', path.relative(t.tree, h.dir), h.dir, t.tree, 'src\0/../..'];
  }

  describe('path traversal in every file tool', () => {
    let t: SandboxTask;
    let h: HostDir;
    let before: { tree: Record<string, string>; git: Record<string, string>; repo: Record<string, string> };

    beforeEach(async () => {
      t = await sandboxTask();
      h = hostDir();
      before = { tree: fingerprint(t.tree), git: fingerprint(t.gitDir), repo: fingerprint(t.repo) };
    });

    afterEach(async () => {
      assertHostDirUnchanged(h);
      assert.deepEqual(fingerprint(t.gitDir), before.git, 'the workspace git dir is unchanged');
      assert.deepEqual(fingerprint(t.repo), before.repo, 'the target repository is unchanged');
      assert.deepEqual(fingerprint(t.tree), before.tree, 'nothing was written in the tree either');
      await t.release();
    });

    const call = () => ({ tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY });

    it('file_read', async () => {
      for (const p of badFilePaths(t, h)) {
        const row = await t.expectRefused('file_read', () => t.tools.fileRead({ ...call(), path: p }));
        assert.doesNotMatch(JSON.stringify(row), new RegExp(h.content.trim()), 'nothing of the sentinel is recorded');
      }
    });

    it('file_write', async () => {
      for (const p of badFilePaths(t, h))
        await t.expectRefused('file_write', () => t.tools.fileWrite({ ...call(), path: p, content: 'pwned\n' }));
      await t.expectRefused('file_write', () =>
        t.tools.fileWrite({ ...call(), path: path.relative(t.tree, h.missing), content: 'pwned\n' }),
      );
    });

    it('file_search_replace', async () => {
      for (const p of badFilePaths(t, h)) {
        await t.expectRefused('file_search_replace', () =>
          t.tools.fileSearchReplace({ ...call(), path: p, search: 'host-original', replace: 'pwned' }),
        );
      }
    });

    it('file_delete', async () => {
      for (const p of badFilePaths(t, h))
        await t.expectRefused('file_delete', () => t.tools.fileDelete({ ...call(), path: p }));
    });

    it('list_files', async () => {
      for (const p of badDirPaths(t, h))
        await t.expectRefused('list_files', () => t.tools.listFiles({ ...call(), path: p }));
    });
  });

  it('a symlink committed in the target repo that points outside is never followed', async () => {
    const h = hostDir();
    const repo = makeRepo();
    symlinkSync(h.sentinel, path.join(repo, 'link-file'));
    symlinkSync(h.dir, path.join(repo, 'link-dir'));
    symlinkSync('..', path.join(repo, 'link-up')); // in the workspace: the folder holding git/
    symlinkSync('../../git/config', path.join(repo, 'src', 'link-rel'));
    gitIn(repo, 'add', '--all');
    gitIn(repo, 'commit', '--quiet', '-m', 'links out');
    const t = await sandboxTask({ repo });
    for (const l of ['link-file', 'link-dir', 'link-up', 'src/link-rel'])
      assert.ok(lstatSync(path.join(t.tree, l)).isSymbolicLink(), `${l} is checked out as a symlink`);
    const git = fingerprint(t.gitDir);
    const target = fingerprint(repo);
    const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };

    for (const p of ['link-file', 'src/link-rel', 'link-up/git/config', 'link-dir/sentinel.txt']) {
      await t.expectRefused('file_read', () => t.tools.fileRead({ ...c, path: p }));
      await t.expectRefused('file_write', () => t.tools.fileWrite({ ...c, path: p, content: 'pwned\n' }));
      await t.expectRefused('file_search_replace', () =>
        t.tools.fileSearchReplace({ ...c, path: p, search: 'host', replace: 'pwned' }),
      );
      await t.expectRefused('file_delete', () => t.tools.fileDelete({ ...c, path: p }));
    }
    await t.expectRefused('file_write', () =>
      t.tools.fileWrite({ ...c, path: 'link-dir/created-by-escape', content: 'pwned\n' }),
    );
    await t.expectRefused('file_write', () =>
      t.tools.fileWrite({ ...c, path: 'link-up/git/hooks/post-commit', content: '#!/bin/sh\n' }),
    );
    for (const p of ['link-dir', 'link-up', 'link-up/git'])
      await t.expectRefused('list_files', () => t.tools.listFiles({ ...c, path: p }));
    const listed = await t.tools.listFiles({ ...c });
    assert.ok(
      listed.entries.some((e) => e.path === 'link-dir' && e.type === 'symlink'),
      'the link is listed as a link',
    );
    assert.ok(!listed.entries.some((e) => /^link-(dir|up)\//.test(e.path)), 'nothing behind a link is listed');

    // Inside the sandbox the same links lead nowhere: the host paths are not mounted.
    for (const argv of [
      ['cat', 'link-file'],
      ['cat', 'link-up/git/config'],
      ['cat', 'src/link-rel'],
      ['touch', 'link-dir/created-by-escape'],
    ]) {
      const run = await t.run(argv);
      assert.notEqual(run.exitCode, 0, `${argv.join(' ')} fails inside the sandbox`);
      assert.doesNotMatch(
        run.outputTail,
        /host-original|bare|repositoryformatversion/,
        'nothing of the host leaks into the output',
      );
      await t.commandRow(run);
    }
    assertHostDirUnchanged(h);
    assert.deepEqual(fingerprint(t.gitDir), git, 'the workspace git dir is unchanged');
    assert.deepEqual(fingerprint(repo), target, 'the target repository is unchanged');
    await t.release();
  });

  it('a symlink created by a command is never read or written through by a file tool', async () => {
    const h = hostDir();
    const t = await sandboxTask();
    const passwd = createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex');
    const git = fingerprint(t.gitDir);
    const links: Array<[string, string]> = [
      [h.sentinel, 'to-sentinel'],
      ['/etc/passwd', 'to-passwd'],
      ['../git', 'to-git'],
      [h.dir, 'to-hostdir'],
      [h.missing, 'dangling'],
      [path.join(h.dir, 'newdir'), 'dangling-dir'],
    ];
    for (const [target, name] of links) {
      const run = await t.run(['ln', '-s', target, name]);
      assert.equal(run.exitCode, 0, `the command may make the link ${name}: ${run.outputTail}`);
      await t.commandRow(run);
      assert.ok(lstatSync(path.join(t.tree, name)).isSymbolicLink());
    }
    const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
    for (const p of ['to-sentinel', 'to-passwd', 'to-git/config', 'to-hostdir/sentinel.txt', 'dangling']) {
      await t.expectRefused('file_read', () => t.tools.fileRead({ ...c, path: p }));
      await t.expectRefused('file_write', () => t.tools.fileWrite({ ...c, path: p, content: 'pwned\n' }));
      await t.expectRefused('file_search_replace', () =>
        t.tools.fileSearchReplace({ ...c, path: p, search: 'root', replace: 'pwned' }),
      );
      await t.expectRefused('file_delete', () => t.tools.fileDelete({ ...c, path: p }));
    }
    for (const p of [
      'to-git/hooks/pre-commit',
      'to-hostdir/created-by-escape',
      'dangling-dir/x',
      'dangling-dir/sub/x',
    ]) {
      await t.expectRefused('file_write', () =>
        t.tools.fileWrite({ ...c, path: p, content: '#!/bin/sh\ntouch /tmp/pwned\n' }),
      );
    }
    for (const p of ['to-git', 'to-hostdir'])
      await t.expectRefused('list_files', () => t.tools.listFiles({ ...c, path: p }));

    assertHostDirUnchanged(h);
    assert.equal(
      createHash('sha256').update(readFileSync('/etc/passwd')).digest('hex'),
      passwd,
      '/etc/passwd is unchanged',
    );
    assert.deepEqual(fingerprint(t.gitDir), git, 'the workspace git dir is unchanged');
    await t.release();
  });

  it('hardlinks: none to the host can be made, and one inside the tree is refused by the file tools', async () => {
    const h = hostDir();
    const t = await sandboxTask();
    const inodes = (dir: string): Set<number> => {
      const out = new Set<number>();
      const walk = (p: string) => {
        const st = lstatSync(p);
        if (st.isDirectory()) readdirSync(p).forEach((n) => walk(path.join(p, n)));
        else out.add(st.ino);
      };
      walk(dir);
      return out;
    };
    const targetInodes = inodes(t.repo);
    for (const ino of [...inodes(t.tree), ...inodes(t.gitDir)])
      assert.ok(!targetInodes.has(ino), 'the workspace shares no inode with the target');
    const git = fingerprint(t.gitDir);

    for (const [source, name] of [
      ['/usr/bin/env', 'hl-usr'],
      ['/etc/ld.so.cache', 'hl-etc'],
      [h.sentinel, 'hl-host'],
      ['/workspace/../git/config', 'hl-git'],
    ]) {
      const run = await t.run(['ln', source, name]);
      assert.notEqual(run.exitCode, 0, `ln ${source} fails inside the sandbox`);
      assert.equal(existsSync(path.join(t.tree, name)), false);
      await t.commandRow(run);
    }

    const made = await t.run(['ln', 'src/app.js', 'src/twin.js']);
    assert.equal(made.exitCode, 0, made.outputTail);
    assert.equal(statSync(path.join(t.tree, 'src', 'app.js')).nlink, 2);
    const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
    for (const p of ['src/app.js', 'src/twin.js']) {
      await t.expectRefused('file_write', () => t.tools.fileWrite({ ...c, path: p, content: 'pwned\n' }));
      await t.expectRefused('file_search_replace', () =>
        t.tools.fileSearchReplace({ ...c, path: p, search: '1', replace: '2' }),
      );
      await t.expectRefused('file_delete', () => t.tools.fileDelete({ ...c, path: p }));
    }
    assert.equal(readFileSync(path.join(t.tree, 'src', 'app.js'), 'utf8'), 'module.exports = 1;\n');
    assertHostDirUnchanged(h);
    assert.deepEqual(fingerprint(t.gitDir), git, 'the workspace git dir is unchanged');
    await t.release();
  });

  it('a file the agent made huge, or a path past PATH_MAX, is refused before it is read or matched', async () => {
    const t = await sandboxTask();
    try {
      const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
      // What a command may write (up to the sandbox's 256 MiB file limit); 150 MiB split on 'a' killed the worker.
      writeFileSync(path.join(t.tree, 'src', 'big.txt'), Buffer.alloc(20 * 1024 * 1024, 'a'));
      await assert.rejects(
        t.tools.fileSearchReplace({ ...c, path: 'src/big.txt', search: 'a', replace: '' }),
        /cannot edit 'src\/big.txt': 20971520 bytes, over 1048576/,
      );
      writeFileSync(path.join(t.tree, 'src', 'bigger.txt'), Buffer.alloc(17 * 1024 * 1024, 'a'));
      await assert.rejects(t.tools.fileRead({ ...c, path: 'src/bigger.txt' }), /over 16777216/);
      const row = await t.expectRefused('file_write', () =>
        t.tools.fileWrite({ ...c, path: `src/${'a.'.repeat(30_000)}/x`, content: 'x' }),
      );
      assert.match(String(row.reason), /longer than a path may be/);
    } finally {
      await t.release();
    }
  });

  // Thrown as they were, these were retried as the host's failure, and the run ended as infrastructure.
  it("what the agent's own tree makes the file system refuse is the tool's failure, never the host's", async () => {
    const t = await sandboxTask();
    try {
      const c = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
      writeFileSync(path.join(t.tree, 'src', 'plain'), 'x');
      await assert.rejects(
        t.tools.fileWrite({ ...c, path: 'src/plain/child.js', content: 'x' }),
        (err: unknown) =>
          err instanceof FileToolError && /'src\/plain\/child\.js' failed: E(EXIST|NOTDIR)/.test(err.message),
      );
      const row = await t.expectRefused('file_write', () =>
        t.tools.fileWrite({ ...c, path: `src/${'é'.repeat(200)}`, content: 'x' }),
      );
      assert.match(String(row.reason), /longer than a path may be \(4096 bytes, 255 a name\)/);
      writeFileSync(Buffer.from(`${t.tree}/src/odd\xff.txt`, 'latin1'), 'x');
      const listed = await t.tools.listFiles({ ...c, path: 'src' });
      assert.ok(
        listed.entries.some((e) => e.path.startsWith('src/odd')),
        JSON.stringify(listed.entries),
      );
    } finally {
      await t.release();
    }
  });
});
