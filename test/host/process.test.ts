/** runProcess: real child processes, real signals, real process groups. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runProcess } from '../../host/run-process';
import { SpawnedProgramError, spawnViaHelper } from '../../host/native-spawner';
import { spawnerPid } from '../../host/spawner';

const NODE = process.execPath;
const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** True while `pid` is a live (not zombie) process. */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // Field 3, after the parenthesised command name, is the state; Z/X mean dead but unreaped.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

describe('runProcess', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'arbiter-proc-')));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reports the exit code and the sha256 of exactly what was printed', async () => {
    const result = await runProcess({
      argv: [NODE, '-e', 'process.stdout.write("hello arbiter\\n"); process.exit(3)'],
      cwd: dir,
      env: {},
      timeoutMs: 10_000,
    });
    assert.equal(result.spawnError, undefined);
    assert.equal(result.exitCode, 3);
    assert.equal(result.signal, null);
    assert.equal(result.timedOut, false);
    assert.equal(result.aborted, false);
    assert.equal(result.truncated, false);
    assert.equal(result.outputBytes, 14);
    assert.equal(result.outputDigest, sha256('hello arbiter\n'));
    assert.equal(result.outputTail, 'hello arbiter\n');
    assert.ok(result.durationMs >= 0 && result.durationMs < 10_000);
  });

  it('exits 0 with an empty-output digest when nothing is printed', async () => {
    const result = await runProcess({ argv: ['/bin/sh', '-c', 'exit 0'], cwd: dir, env: {}, timeoutMs: 10_000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.outputBytes, 0);
    assert.equal(result.outputDigest, sha256(''));
    assert.equal(result.outputTail, '');
  });

  it('captures stderr too, and runs in the given cwd', async () => {
    const result = await runProcess({ argv: ['/bin/sh', '-c', 'pwd 1>&2'], cwd: dir, env: {}, timeoutMs: 10_000 });
    assert.equal(result.exitCode, 0);
    assert.equal(result.outputTail, `${dir}\n`);
    assert.equal(result.outputDigest, sha256(`${dir}\n`));
  });

  it('keeps the last 4096 bytes as the tail while digesting all of the output', async () => {
    const expected = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('');
    const result = await runProcess({
      argv: [NODE, '-e', 'let s = ""; for (let i = 0; i < 5000; i++) s += `line ${i}\\n`; process.stdout.write(s)'],
      cwd: dir,
      env: {},
      timeoutMs: 10_000,
    });
    assert.equal(result.exitCode, 0);
    assert.equal(result.outputBytes, Buffer.byteLength(expected));
    assert.equal(result.outputDigest, sha256(expected));
    assert.equal(result.outputTail, expected.slice(-4096));
    assert.ok(result.outputTail.endsWith('line 4999\n'));
    assert.equal(result.truncated, false);
  });

  it('kills the whole process group on the wall-clock timeout, background children included', async () => {
    const pidfile = path.join(dir, 'pidfile');
    const started = Date.now();
    const result = await runProcess({
      argv: ['/bin/sh', '-c', 'sleep 30 & echo $! > pidfile; wait'],
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      timeoutMs: 2000,
    });
    const elapsed = Date.now() - started;
    assert.equal(result.timedOut, true);
    assert.equal(result.aborted, false);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
    assert.ok(existsSync(pidfile), 'the shell should have started the background sleep');
    const childPid = Number(readFileSync(pidfile, 'utf8').trim());
    assert.ok(Number.isInteger(childPid) && childPid > 1, `bad pid ${childPid}`);
    assert.ok(await waitUntil(() => !alive(childPid), 10_000), `background child ${childPid} survived the timeout`);
  });

  it('caps output: a program printing without end is killed and marked truncated', async () => {
    const maxOutputBytes = 64 * 1024;
    const started = Date.now();
    const result = await runProcess({
      argv: ['/usr/bin/yes', 'arbiter'],
      cwd: dir,
      env: {},
      timeoutMs: 20_000,
      maxOutputBytes,
    });
    assert.equal(result.truncated, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(result.outputBytes > maxOutputBytes);
    assert.ok(Date.now() - started < 15_000);
    assert.match(result.outputDigest, /^sha256:[0-9a-f]{64}$/);
    assert.ok(result.outputTail.length > 0 && result.outputTail.length <= 4096);
    assert.match(result.outputTail, /^(arbiter\n)*arbiter/m);
  });

  it('kills promptly when the AbortSignal fires', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const result = await runProcess({
      argv: ['/usr/bin/sleep', '30'],
      cwd: dir,
      env: {},
      timeoutMs: 25_000,
      signal: controller.signal,
    });
    const elapsed = Date.now() - started;
    assert.equal(result.aborted, true);
    assert.equal(result.timedOut, false);
    assert.equal(result.exitCode, null);
    assert.equal(result.signal, 'SIGKILL');
    assert.ok(elapsed < 5000, `abort took ${elapsed} ms`);
  });

  it('does not run (or kills at once) when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const started = Date.now();
    const result = await runProcess({
      argv: ['/usr/bin/sleep', '30'],
      cwd: dir,
      env: {},
      timeoutMs: 25_000,
      signal: controller.signal,
    });
    assert.equal(result.aborted, true);
    assert.notEqual(result.exitCode, 0);
    assert.ok(Date.now() - started < 5000);
  });

  // A writable pipe of whatever started the worker was open in every sandboxed process (found in review).
  it('a descriptor the worker inherited without close-on-exec reaches no program it starts', () => {
    const runProcessJs = path.join(__dirname, '..', '..', 'host', 'run-process.js');
    const script = `require(${JSON.stringify(runProcessJs)})
      .runProcess({ argv: ['ls', '/proc/self/fd'], cwd: '/', env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10000, maxOutputBytes: 4096 })
      .then((r) => { console.log(r.outputTail.trim().split(/\\s+/).join(' ')); process.exit(0); });`;
    // fd 60 of the worker: one it inherited, as from a supervisor or a test harness.
    const run = spawnSync('bash', ['-c', 'exec 60<&0; exec "$0" -e "$1"', NODE, script], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout);
    const fds = run.stdout.trim().split(' ').map(Number);
    assert.ok(fds.includes(0) && fds.includes(2), run.stdout);
    assert.ok(!fds.includes(60), `the inherited descriptor reached the program: ${run.stdout}`);
  });

  it('reports a missing program in spawnError instead of throwing', async () => {
    const result = await runProcess({
      argv: ['/nonexistent/arbiter-no-such-program', '--x'],
      cwd: dir,
      env: {},
      timeoutMs: 10_000,
    });
    assert.match(result.spawnError ?? '', /ENOENT/);
    assert.equal(result.exitCode, null);
    assert.equal(result.timedOut, false);
    assert.equal(result.outputBytes, 0);
    assert.equal(result.outputDigest, sha256(''));
    // Node follows the spawn 'error' with a 'close'; that must not blow up after the result.
    await new Promise((r) => setTimeout(r, 200));
  });

  it('reports a missing working directory in spawnError too', async () => {
    const result = await runProcess({
      argv: ['/bin/sh', '-c', 'exit 0'],
      cwd: path.join(dir, 'missing'),
      env: {},
      timeoutMs: 10_000,
    });
    assert.match(result.spawnError ?? '', /ENOENT/);
    assert.equal(result.exitCode, null);
    await new Promise((r) => setTimeout(r, 200));
  });

  describe('environment', () => {
    const SECRET = 'ARBITER_TEST_FAKE_SECRET';
    before(() => {
      process.env[SECRET] = 'hunter2-do-not-leak';
    });
    after(() => {
      delete process.env[SECRET];
    });

    it('passes exactly the env given, nothing from the worker', async () => {
      const result = await runProcess({ argv: ['/usr/bin/env'], cwd: dir, env: { ONLY: 'this' }, timeoutMs: 10_000 });
      assert.equal(result.exitCode, 0);
      assert.equal(result.outputTail, 'ONLY=this\n');
      assert.doesNotMatch(result.outputTail, /hunter2|PATH|HOME/);
    });

    it('an empty env gives the child no variables at all', async () => {
      const result = await runProcess({ argv: ['/usr/bin/env'], cwd: dir, env: {}, timeoutMs: 10_000 });
      assert.equal(result.exitCode, 0);
      assert.equal(result.outputBytes, 0);
      assert.equal(result.outputTail, '');
    });
  });

  describe('the spawner process', () => {
    it('starts the program, so the worker is never forked for it', async () => {
      const result = await runProcess({ argv: ['/bin/sh', '-c', 'echo $PPID'], cwd: dir, env: {}, timeoutMs: 10_000 });
      assert.equal(result.exitCode, 0);
      assert.notEqual(Number(result.outputTail.trim()), process.pid);
      assert.equal(Number(result.outputTail.trim()), spawnerPid());
    });

    it('a program that cannot start (a NUL byte an agent chose) fails alone; another task’s program keeps its own limits', async () => {
      const pidFile = path.join(dir, 'pid');
      const victim = runProcess({
        argv: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`],
        cwd: dir,
        env: {},
        timeoutMs: 1500,
      });
      assert.ok(await waitUntil(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000));
      const helper = spawnerPid();
      const hostile = await runProcess({ argv: ['/bin/echo', 'a\0b'], cwd: dir, env: {}, timeoutMs: 10_000 });
      assert.match(hostile.spawnError ?? '', /null bytes/);
      await assert.rejects(spawnViaHelper('/bin/echo', ['a\0b'], { env: {}, maxBuffer: 1024 }), SpawnedProgramError);
      const outcome = await victim;
      assert.equal(outcome.timedOut, true, 'the other program ran to its own timeout');
      assert.equal(spawnerPid(), helper, 'the shared spawner survived');
      assert.ok(await waitUntil(() => !alive(Number(readFileSync(pidFile, 'utf8'))), 5_000));
    });

    it('a spawner killed mid-run fails the call (an infrastructure fault), and the next call gets a new one', async () => {
      const marker = path.join(dir, 'started');
      const running = runProcess({
        argv: ['/bin/sh', '-c', `touch ${marker}; sleep 30`],
        cwd: dir,
        env: {},
        timeoutMs: 60_000,
      });
      assert.ok(await waitUntil(() => existsSync(marker), 10_000));
      const first = spawnerPid()!;
      process.kill(first, 'SIGKILL');
      await assert.rejects(running, /spawner process ended/);
      const next = await runProcess({ argv: ['/bin/true'], cwd: dir, env: {}, timeoutMs: 10_000 });
      assert.equal(next.exitCode, 0);
      assert.notEqual(spawnerPid(), first);
    });
  });
});
