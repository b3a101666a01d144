/** `arbiter sandbox exec` as an operator runs it, against the real bwrap sandbox. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arbiter } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';
import { tempDir } from '../helpers/temp';

/** Each run's own ARBITER_HOME (where the command's one-off uid lease lives), not the developer's. */
const exec = (args: string[]) => arbiter(['sandbox', 'exec', ...args], { ARBITER_HOME: tempDir('arbiter-exec-home-') });

function workspace(): string {
  const dir = tempDir('arbiter-exec-');
  chmodSync(dir, 0o777); // writable by the uid the command is leased
  writeFileSync(path.join(dir, 'input.txt'), 'hello\n');
  return dir;
}

describe('arbiter sandbox exec', function () {
  this.timeout(60_000);

  it('runs a command confined, reports its changes and flags those out of scope (exit 1)', async () => {
    const dir = workspace();
    const script =
      "const fs=require('fs');fs.mkdirSync('src',{recursive:true});fs.writeFileSync('src/a.js','1');fs.writeFileSync('notes.md','x');console.log(fs.readFileSync('input.txt','utf8').trim())";
    const res = await exec(['--workspace', dir, '--scope-in', 'src/**', '--json', '--', 'node', '-e', script]);
    assert.equal(res.code, 1, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.equal(out.exitCode, 0);
    assert.equal(out.sandbox, 'bwrap');
    assert.match(out.outputTail, /hello/);
    assert.deepEqual(out.changed, [
      { path: 'notes.md', refused: "'notes.md' is not in scope.in" },
      { path: 'src/a.js', refused: null },
    ]);
  });

  it('exits 0 when everything changed is in scope, and cannot write outside the workspace', async () => {
    const dir = workspace();
    const outside = path.join(os.tmpdir(), `${uniqueId('outside')}.txt`);
    const script = `const fs=require('fs');fs.writeFileSync(${JSON.stringify(outside)},'x');console.log('private tmp '+fs.existsSync(${JSON.stringify(outside)}));try{fs.writeFileSync('/usr/arbiter-x','x')}catch(e){console.log('usr refused '+e.code)}`;
    const res = await exec(['--workspace', dir, '--', 'node', '-e', script]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /private tmp true/);
    assert.match(res.stdout, /usr refused (EROFS|EACCES)/);
    assert.equal(existsSync(outside), false, 'the sandbox /tmp is not the host /tmp');
    assert.equal(existsSync('/usr/arbiter-x'), false);
  });

  it('refuses a shell unless --allow-shell, and names a bad workspace (exit 2)', async () => {
    const dir = workspace();
    const refused = await exec(['--workspace', dir, '--', 'sh', '-c', 'echo hi']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /'sh' is a shell and this task's policy does not allow one/);
    const allowed = await exec(['--workspace', dir, '--allow-shell', '--', 'sh', '-c', 'echo hi']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /hi/);
    const bad = await exec(['--workspace', path.join(tempDir('arbiter-exec-'), 'missing'), '--', 'true']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /is not a directory/);
  });

  it('passes the command exit code through', async () => {
    const res = await exec(['--workspace', workspace(), '--', 'node', '-e', 'process.exit(7)']);
    assert.equal(res.code, 7);
  });
});
