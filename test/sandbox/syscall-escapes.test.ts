/**
 * Escape suite, the kernel's surface: nested user namespaces, the seccomp deny list (keyrings,
 * bpf, io_uring, mounts, namespaces, ptrace, modules, clocks, new unix sockets, …), foreign
 * architectures and the x32 ABI. Each attack runs inside the real bwrap sandbox; where it would
 * work without the sandbox, a control makes the same call on the host as the same unprivileged
 * user and shows a different result, so the refusal is the sandbox's doing. Normal work
 * (children with pipes, threads, python, git, a shell pipeline, an inherited unix socket) runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { confinedArgv, envArgsInput, sandboxEnv } from '../../host/sandbox/bwrap';
import { runningAsRoot } from '../../host/sandbox/config';
import { seccompProgram } from '../../host/sandbox/seccomp';
import { tempDir } from '../helpers/temp';
import { sandboxTask, type SandboxTask } from './escape-helpers';
import { ALLOWED, hostArch, I386_CALL, probeArgv, REACHABLE_WITHOUT_FILTER, REFUSED, X32_CALL } from './syscall-probe';

const SIGSYS_EXIT = 128 + 31;

/** Runs `argv` confined in `t`'s workspace by hand (optionally without parts of the confinement), the socket it may be given on fd 4. */
function spawnConfined(
  t: SandboxTask,
  argv: string[],
  options: { drop?: string[][]; extraFds?: [net.Socket] } = {},
): Promise<{ status: number | null; output: string }> {
  let full = confinedArgv(t.tree, argv, t.config, { uid: t.uid, gid: t.uid });
  for (const part of options.drop ?? []) {
    const i = full.findIndex((_, j) => part.every((p, k) => full[j + k] === p));
    assert.ok(i >= 0, `${part.join(' ')} is in the confinement`);
    full = [...full.slice(0, i), ...full.slice(i + part.length)];
  }
  const filtered = full.includes('--seccomp');
  const child = spawn(full[0], full.slice(1), {
    cwd: '/',
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe', filtered ? 'pipe' : 'ignore', options.extraFds?.[0] ?? 'ignore', 'pipe'],
  });
  if (filtered) (child.stdio[3] as NodeJS.WritableStream).end(seccompProgram());
  ((child.stdio as unknown[])[5] as NodeJS.WritableStream).end(envArgsInput(sandboxEnv()));
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, output })));
}

/** The same program on the host, as the task's uid, without bwrap or the filter. */
function onHostAsSandboxUser(t: SandboxTask, argv: string[]): { status: number | null; stdout: string } {
  const full = runningAsRoot() ? ['setpriv', `--reuid=${t.uid}`, `--regid=${t.uid}`, '--clear-groups', ...argv] : argv;
  const run = spawnSync(full[0], full.slice(1), { cwd: '/', encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
  return { status: run.status, stdout: run.stdout };
}

describe('sandbox escapes: the kernel surface', function () {
  this.timeout(60_000);
  let t: SandboxTask;

  before(async () => {
    t = await sandboxTask();
  });
  after(async () => {
    await t.release();
  });

  it('no nested user namespace: unshare -U, unshare -r and bwrap inside all fail', async () => {
    for (const argv of [
      ['unshare', '-U', 'true'],
      ['unshare', '-r', 'id'],
      ['bwrap', '--ro-bind', '/', '/', 'true'],
    ]) {
      const run = await t.run(argv);
      assert.notEqual(run.exitCode, 0, `${argv.join(' ')} must fail: ${run.outputTail}`);
      await t.commandRow(run);
    }
    // Without the filter, --disable-userns alone still stops it (the kernel's ENOSPC: no user namespace left)…
    const unfiltered = await spawnConfined(t, ['unshare', '-U', 'true'], { drop: [['--seccomp', '3']] });
    assert.notEqual(unfiltered.status, 0, unfiltered.output);
    assert.match(unfiltered.output, /No space left on device/);
    // …and without both, the same command makes a user namespace: the attack is real.
    const control = await spawnConfined(t, ['unshare', '-U', 'true'], {
      drop: [['--seccomp', '3'], ['--disable-userns']],
    });
    assert.equal(control.status, 0, `control: unshare -U works in a sandbox without either: ${control.output}`);
  });

  it('the deny list refuses keyrings, bpf, io_uring, mounts, namespaces, ptrace, modules, clocks, unix sockets', async () => {
    const run = await t.run(probeArgv([...REFUSED, ...ALLOWED]));
    assert.equal(run.exitCode, 0, run.outputTail);
    await t.commandRow(run);
    const inside = JSON.parse(run.outputTail) as Record<string, string>;
    const control = onHostAsSandboxUser(t, probeArgv([...REFUSED, ...ALLOWED]));
    assert.equal(control.status, 0, control.stdout);
    const outside = JSON.parse(control.stdout) as Record<string, string>;
    const present = REFUSED.filter((p) => p.label in inside);
    assert.ok(present.length >= REFUSED.length - 3, `the probes ran: ${JSON.stringify(inside)}`);
    for (const p of present) assert.equal(inside[p.label], p.expect, `${p.label} inside the sandbox`);
    for (const p of ALLOWED) assert.equal(inside[p.label], 'ok', `${p.label} is allowed inside`);
    for (const label of REACHABLE_WITHOUT_FILTER)
      assert.notEqual(outside[label], inside[label], `control: ${label} on the host gives ${outside[label]}`);
  });

  it('an x32 call or an i386 call (int 0x80) kills the process', async function () {
    if (hostArch() !== 'x86_64') this.skip();
    for (const argv of [X32_CALL, I386_CALL]) {
      const run = await t.run(argv);
      assert.equal(run.exitCode, SIGSYS_EXIT, `killed by SIGSYS: ${run.exitCode} ${run.outputTail}`);
      await t.commandRow(run);
    }
    // Control: where the kernel runs i386 code at all, the same call answers on the host.
    const control = onHostAsSandboxUser(t, I386_CALL);
    if (control.status === 0) assert.match(control.stdout, /^\d+$/m, 'control: on the host the i386 getpid answers');
  });

  it('normal work runs: node children with pipes and IPC, threads, python, git, a shell pipeline', async () => {
    const node = `
      const cp = require('child_process');
      const out = cp.spawnSync('sh', ['-c', 'read x; echo got $x'], { input: 'ping\\n' }).stdout.toString().trim();
      const child = cp.spawn(process.execPath, ['-e', 'process.on("message", (m) => { process.send(m + 1); process.disconnect(); })'], {
        stdio: ['pipe', 'pipe', 'pipe', 'ipc'],
      });
      child.on('message', (m) => {
        const { Worker } = require('worker_threads');
        new Worker('require("worker_threads").parentPort.postMessage(6 * 7)', { eval: true })
          .on('message', (w) => console.log(out, m, w));
      });
      child.send(41);`;
    const python = [
      'import subprocess, threading, multiprocessing',
      "r = subprocess.run(['tr', 'a-z', 'A-Z'], input=b'pipe', capture_output=True).stdout.decode()",
      't = threading.Thread(target=lambda: None); t.start(); t.join()',
      'with multiprocessing.Pool(2) as pool: print(r, sum(pool.map(abs, [-1, -2])))',
    ].join('\n');
    const git =
      'cd /tmp && git init -q r && cd r && echo x > f && git add f && git -c user.name=a -c user.email=a@b commit -qm one && git log --format=%s';
    const cases: Array<[string[], RegExp]> = [
      [['node', '-e', node], /^got ping 42 42$/m],
      [['python3', '-c', python], /^PIPE 3$/m],
      [['sh', '-c', git], /^one$/m],
      [['sh', '-c', 'seq 1 1000 | sort -rn | head -n 1 | tee /tmp/x | wc -c'], /^5$/m],
    ];
    for (const [argv, expected] of cases) {
      const run = await t.run(argv, { allowShell: true, timeoutMs: 30_000 });
      assert.equal(run.exitCode, 0, `${argv[0]}: ${run.outputTail}`);
      assert.match(run.outputTail, expected);
      await t.commandRow(run);
    }
  });

  it('an inherited unix socket (fd 4) still carries data both ways, read raw or as a node socket', async () => {
    const dir = tempDir('arbiter-relay-');
    const server = net.createServer((s) => s.on('data', (d) => s.end(`pong ${d.toString()}`)));
    const socketPath = path.join(dir, 'relay.sock');
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    const clients: net.Socket[] = [];
    try {
      for (const argv of [
        [
          'python3',
          '-c',
          "import os, select; os.write(4, b'ping'); select.select([4], [], []); print(os.read(4, 100).decode())",
        ],
        // As the gateway's relay opens it.
        [
          'node',
          '-e',
          "const s = new (require('net').Socket)({ fd: 4, readable: true, writable: true }); s.on('data', (d) => { console.log(String(d)); process.exit(0); }); s.write('ping');",
        ],
      ]) {
        const client = net.connect(socketPath);
        clients.push(client);
        await new Promise((resolve) => client.on('connect', resolve));
        const run = await spawnConfined(t, argv, { extraFds: [client] });
        assert.equal(run.status, 0, run.output);
        assert.match(run.output, /^pong ping$/m, argv[0]);
      }
    } finally {
      for (const c of clients) c.destroy();
      server.close();
    }
  });
});
