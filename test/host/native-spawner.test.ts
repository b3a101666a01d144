/** arbiter-spawn (host/native-spawner.ts): real programs, real signals, the helper killed mid-call. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpawnedProgramError, spawnHelperPid, spawnViaHelper } from '../../host/native-spawner';

const PATH = '/usr/bin:/bin';

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !cond()) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

const sh = (
  script: string,
  options: { input?: string; maxBuffer?: number; timeoutMs?: number; env?: Record<string, string> } = {},
) => spawnViaHelper('/bin/sh', ['-c', script], { env: options.env ?? { PATH }, maxBuffer: 1 << 20, ...options });

const failure = (p: Promise<unknown>) =>
  p.then(
    () => assert.fail('the program succeeded'),
    (err: unknown) => {
      assert.ok(err instanceof SpawnedProgramError, String(err));
      return err;
    },
  );

describe('the native spawner (arbiter-spawn)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'arbiter-native-')))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the program with exactly its argv, environment and stdin, and returns its stdout', async () => {
    const out = await spawnViaHelper('/usr/bin/env', [], { env: { ONLY: 'this' }, maxBuffer: 4096 });
    assert.equal(out.toString(), 'ONLY=this\n');
    const echoed = await sh('printf "%s|" "$@"; cat', { input: 'from stdin' }).then(String);
    assert.equal(echoed, '|from stdin');
    const args = await spawnViaHelper('/bin/sh', ['-c', 'printf "%s|" "$@"', 'zero', 'a b', '', 'ü'], {
      env: {},
      maxBuffer: 4096,
    });
    assert.equal(args.toString(), 'a b||ü|');
  });

  it('looks a bare name up in the PATH of the program’s own environment, not the worker’s', async () => {
    writeFileSync(path.join(dir, 'only-here'), '#!/bin/sh\necho found in $0\n', { mode: 0o755 });
    const out = await spawnViaHelper('only-here', [], { env: { PATH: `/nonexistent:${dir}` }, maxBuffer: 4096 });
    assert.equal(out.toString(), `found in ${dir}/only-here\n`);
    const missing = await failure(spawnViaHelper('only-here', [], { env: { PATH }, maxBuffer: 4096 }));
    assert.match(missing.message, /ENOENT/);
    assert.equal(missing.code, undefined);
  });

  it('reports a failing program with its exit code, stdout and stderr, and a signal without a code', async () => {
    const failed = await failure(sh('echo out; echo err >&2; exit 3'));
    assert.equal(failed.code, 3);
    assert.equal(failed.stdout.toString(), 'out\n');
    assert.equal(failed.stderr.toString(), 'err\n');
    assert.equal(failed.overran, undefined);
    const killed = await failure(sh('kill -TERM $$'));
    assert.equal(killed.code, undefined);
    assert.match(killed.message, /SIGTERM/);
  });

  it('says which limit stopped a program: its output past maxBuffer, or its time, and kills it', async () => {
    const loud = await failure(sh('head -c 5000 /dev/zero; sleep 30', { maxBuffer: 1000 }));
    assert.equal(loud.overran, 'output');
    assert.equal(loud.stdout.length, 1000, 'kept up to the limit');
    const pidFile = path.join(dir, 'slow.pid');
    const started = Date.now();
    const slow = await failure(sh(`echo $$ > ${pidFile}; exec sleep 30`, { timeoutMs: 300 }));
    assert.equal(slow.overran, 'time');
    assert.ok(Date.now() - started < 10_000, 'stopped at its time limit, not its end');
    assert.equal(alive(Number(readFileSync(pidFile, 'utf8'))), false, 'and killed');
  });

  it('the time limit holds after the program exits while a child it left keeps its output open', async () => {
    const lingering = await failure(sh('sleep 30 & echo started', { timeoutMs: 500 }));
    assert.equal(lingering.overran, 'time');
    assert.equal(lingering.stdout.toString(), 'started\n');
  });

  it('a program gets default signal handling and no descriptor but its three pipes', async () => {
    // The helper ignores SIGPIPE and blocks SIGCHLD; a program inheriting either misbehaves (`yes` looping on EPIPE).
    // glibc's posix_spawn leaves its two internal signals (32, 33) ignored, which glibc programs take back.
    const status = (await sh('grep -E "^Sig(Blk|Ign)" /proc/self/status')).toString();
    assert.match(status, /^SigBlk:\s+0+$/m);
    const ignored = BigInt(`0x${/^SigIgn:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
    assert.equal(ignored & ~0x1_8000_0000n, 0n, `no other signal ignored: ${status}`);
    const fds = (await spawnViaHelper('/bin/ls', ['/proc/self/fd'], { env: {}, maxBuffer: 4096 })).toString();
    assert.deepEqual(
      fds.trim().split('\n'),
      ['0', '1', '2', '3'],
      'ls sees its own listing descriptor besides the pipes',
    );
  });

  it('refuses an argument or variable with a NUL byte, and the next call still runs', async () => {
    await failure(spawnViaHelper('/bin/echo', ['a\0b'], { env: {}, maxBuffer: 1024 }));
    await failure(spawnViaHelper('/bin/echo', [], { env: { A: 'x\0y' }, maxBuffer: 1024 }));
    assert.equal((await spawnViaHelper('/bin/echo', ['ok'], { env: {}, maxBuffer: 1024 })).toString(), 'ok\n');
  });

  it('runs many programs at once and gives each its own answer, large outputs whole', async () => {
    const outs = await Promise.all(
      Array.from({ length: 40 }, (_, i) => sh(`head -c ${i * 20_000} /dev/zero | tr '\\0' ${i % 10}`)),
    );
    outs.forEach((out, i) =>
      assert.ok(out.length === i * 20_000 && out.every((b) => b === 0x30 + (i % 10)), `call ${i}`),
    );
  });

  it('a helper killed mid-call fails that call (an infrastructure fault), and the next call gets a new one', async () => {
    const marker = path.join(dir, 'started');
    const running = sh(`touch ${marker}; sleep 30`);
    assert.ok(await waitUntil(() => existsSync(marker), 10_000));
    const first = spawnHelperPid()!;
    process.kill(first, 'SIGKILL');
    const err = await failure(running);
    assert.match(err.message, /spawner process ended/);
    assert.equal((await sh('echo again')).toString(), 'again\n');
    assert.notEqual(spawnHelperPid(), first);
  });
});
