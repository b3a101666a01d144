/** resolveInWorkspace on a real filesystem: every escape the design names is refused. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { resolveInWorkspace } from '../../host/workspace-paths';
import { PathEscapeError } from '../../domain/errors';
import { tempDir } from '../helpers/temp';

async function refused(workspace: string, relative: string, reason: RegExp): Promise<void> {
  await assert.rejects(resolveInWorkspace(workspace, relative), (err: unknown) => {
    assert.ok(
      err instanceof PathEscapeError,
      `expected PathEscapeError for ${JSON.stringify(relative)}, got ${String(err)}`,
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'PathEscapeError');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, reason);
    return true;
  });
}

describe('resolveInWorkspace', () => {
  let tmp: string;
  let ws: string;
  let outside: string;

  beforeEach(() => {
    tmp = realpathSync(tempDir('arbiter-paths-'));
    ws = path.join(tmp, 'ws');
    outside = path.join(tmp, 'outside');
    mkdirSync(path.join(ws, 'src', 'lib'), { recursive: true });
    mkdirSync(path.join(ws, '.git'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(ws, 'src', 'app.js'), 'x');
    writeFileSync(path.join(ws, '.git', 'config'), '[core]\n');
    writeFileSync(path.join(outside, 'secret.txt'), 'secret');
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  describe('accepts', () => {
    it('an existing regular file', async () => {
      assert.equal(await resolveInWorkspace(ws, 'src/app.js'), path.join(ws, 'src', 'app.js'));
    });
    it('a new file in new nested directories', async () => {
      assert.equal(
        await resolveInWorkspace(ws, 'src/new/deeper/still/file.ts'),
        path.join(ws, 'src', 'new', 'deeper', 'still', 'file.ts'),
      );
      assert.equal(await resolveInWorkspace(ws, 'brand-new.md'), path.join(ws, 'brand-new.md'));
    });
    it('redundant separators and backslashes as separators', async () => {
      assert.equal(await resolveInWorkspace(ws, 'src//lib/x.js'), path.join(ws, 'src', 'lib', 'x.js'));
      assert.equal(await resolveInWorkspace(ws, 'src\\lib\\y.js'), path.join(ws, 'src', 'lib', 'y.js'));
    });
    it('names like ..foo and .gitignore that only look suspicious', async () => {
      assert.equal(await resolveInWorkspace(ws, 'src/..foo'), path.join(ws, 'src', '..foo'));
      assert.equal(await resolveInWorkspace(ws, '.gitignore'), path.join(ws, '.gitignore'));
    });
    it('a workspace given through a symlink, answering with the real path', async () => {
      const alias = path.join(tmp, 'alias');
      symlinkSync(ws, alias);
      assert.equal(await resolveInWorkspace(alias, 'src/app.js'), path.join(ws, 'src', 'app.js'));
    });
  });

  describe('refuses', () => {
    it('.. anywhere', async () => {
      await refused(ws, '../outside/secret.txt', /'\.\.' is not allowed/);
      await refused(ws, 'src/../../outside/secret.txt', /'\.\.' is not allowed/);
      await refused(ws, 'src/..', /'\.\.' is not allowed/);
      await refused(ws, 'src\\..\\..\\x', /'\.\.' is not allowed/);
    });
    it('absolute paths', async () => {
      await refused(ws, path.join(outside, 'secret.txt'), /absolute/);
      await refused(ws, '/etc/passwd', /absolute/);
      await refused(ws, path.join(ws, 'src', 'app.js'), /absolute/);
    });
    it('a NUL byte', async () => {
      await refused(ws, 'src/app.js\0.txt', /NUL/);
    });
    it('the workspace itself', async () => {
      await refused(ws, '', /workspace itself/);
      await refused(ws, '.', /workspace itself/);
      await refused(ws, './/.', /workspace itself/);
    });
    it('.git and anything under it', async () => {
      await refused(ws, '.git/config', /\.git is protected/);
      await refused(ws, '.git', /\.git is protected/);
      await refused(ws, '.git/hooks/pre-commit', /\.git is protected/);
    });
    it('.git reached through ./ prefixes', async () => {
      await refused(ws, './.git/config', /\.git is protected/);
      await refused(ws, '././.git/hooks/post-checkout', /\.git is protected/);
    });
    it('a symlinked directory leading outside, for existing and new files', async () => {
      symlinkSync(outside, path.join(ws, 'src', 'escape'));
      await refused(ws, 'src/escape/secret.txt', /symlink/);
      await refused(ws, 'src/escape/new-file.txt', /symlink/);
      await refused(ws, 'src/escape/new/dir/file.txt', /symlink/);
    });
    it('a symlinked directory even when it points inside the workspace', async () => {
      symlinkSync(path.join(ws, 'src', 'lib'), path.join(ws, 'lib-alias'));
      await refused(ws, 'lib-alias/x.js', /symlink/);
    });
    it('a symlink file, whether it points inside or outside', async () => {
      symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'src', 'out.txt'));
      symlinkSync(path.join(ws, 'src', 'app.js'), path.join(ws, 'src', 'in.txt'));
      await refused(ws, 'src/out.txt', /symlink/);
      await refused(ws, 'src/in.txt', /symlink/);
    });
    it('a dangling symlink, which a write would follow outside', async () => {
      symlinkSync(path.join(outside, 'not-yet.txt'), path.join(ws, 'src', 'dangling.txt'));
      await refused(ws, 'src/dangling.txt', /not a regular file|symlink/);
    });
    it('a hardlinked file', async () => {
      linkSync(path.join(outside, 'secret.txt'), path.join(ws, 'src', 'hard.txt'));
      await refused(ws, 'src/hard.txt', /hardlinked/);
    });
    it('a FIFO', async () => {
      execFileSync('mkfifo', [path.join(ws, 'src', 'pipe')]);
      await refused(ws, 'src/pipe', /not a regular file/);
    });
    it('a directory', async () => {
      await refused(ws, 'src/lib', /not a regular file/);
    });
    it('a device file linked into the workspace', async () => {
      symlinkSync('/dev/null', path.join(ws, 'null'));
      await refused(ws, 'null', /symlink|not a regular file/);
    });
  });
});
