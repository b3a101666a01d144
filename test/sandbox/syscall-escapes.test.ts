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
import { confinedArgv } from '../../host/sandbox/bwrap';
import { runningAsRoot } from '../../host/sandbox/config';
import { seccompProgram } from '../../host/sandbox/seccomp';
import { tempDir } from '../helpers/temp';
import { sandboxTask, type SandboxTask } from './escape-helpers';
import { hostArch, I386_CALL, probeArgv, X32_CALL, type Probe } from './syscall-probe';

const EPERM = 'errno 1';
const SIGSYS_EXIT = 128 + 31;
const NOWHERE_PID = 0x3fffffff;
const AT_FDCWD = -100;

/** Calls the deny list refuses, with arguments that are harmless when they do run. */
const REFUSED: Array<Probe & { expect: string }> = [
  { label: 'keyctl', name: 'keyctl', args: [0, -3, 0], expect: EPERM },
  { label: 'add_key', name: 'add_key', args: ['user', 'arbiter-probe', 'x', 1, -2], expect: EPERM },
  { label: 'request_key', name: 'request_key', args: ['user', 'arbiter-none', 0, 0], expect: EPERM },
  { label: 'bpf', name: 'bpf', args: [0, 0, 0], expect: EPERM },
  { label: 'perf_event_open', name: 'perf_event_open', args: [0, 0, -1, -1, 0], expect: EPERM },
  { label: 'userfaultfd', name: 'userfaultfd', args: [1], expect: EPERM },
  { label: 'io_uring_setup', name: 'io_uring_setup', args: [1, 0], expect: EPERM },
  { label: 'io_uring_enter', name: 'io_uring_enter', args: [-1, 0, 0, 0, 0, 0], expect: EPERM },
  { label: 'mount', name: 'mount', args: [0, 0, 0, 0, 0], expect: EPERM },
  { label: 'umount2', name: 'umount2', args: ['/', 0xffff], expect: EPERM },
  { label: 'pivot_root', name: 'pivot_root', args: ['/', '/'], expect: EPERM },
  { label: 'open_tree', name: 'open_tree', args: [AT_FDCWD, '/', 0], expect: EPERM },
  { label: 'unshare(0)', name: 'unshare', args: [0], expect: EPERM },
  { label: 'unshare(CLONE_NEWUSER)', name: 'unshare', args: [0x10000000], expect: EPERM },
  { label: 'setns', name: 'setns', args: [-1, 0], expect: EPERM },
  { label: 'clone(CLONE_NEWUSER|CLONE_FS)', name: 'clone', args: [0x10000200, 0, 0, 0, 0], expect: EPERM },
  { label: 'clone3', name: 'clone3', args: [0, 0], expect: 'errno 38' },
  { label: 'ptrace', name: 'ptrace', args: [2, NOWHERE_PID, 0, 0], expect: EPERM },
  { label: 'process_vm_readv', name: 'process_vm_readv', args: [1, 0, 0, 0, 0, 1], expect: EPERM },
  { label: 'kcmp', name: 'kcmp', args: [NOWHERE_PID, NOWHERE_PID, 0, 0, 0], expect: EPERM },
  { label: 'pidfd_getfd', name: 'pidfd_getfd', args: [-1, 0, 0], expect: EPERM },
  { label: 'init_module', name: 'init_module', args: [0, 0, 0], expect: EPERM },
  { label: 'finit_module', name: 'finit_module', args: [-1, 0, 0], expect: EPERM },
  { label: 'kexec_load', name: 'kexec_load', args: [0, 0, 0, 0], expect: EPERM },
  { label: 'name_to_handle_at', name: 'name_to_handle_at', args: [AT_FDCWD, '/', 0, 0, 0], expect: EPERM },
  { label: 'open_by_handle_at', name: 'open_by_handle_at', args: [AT_FDCWD, 0, 0], expect: EPERM },
  { label: 'swapon', name: 'swapon', args: [0, 0], expect: EPERM },
  { label: 'reboot', name: 'reboot', args: [0, 0, 0, 0], expect: EPERM },
  { label: 'acct', name: 'acct', args: [0], expect: EPERM },
  { label: 'syslog', name: 'syslog', args: [10, 0, 0], expect: EPERM },
  { label: 'iopl', name: 'iopl', args: [0], expect: EPERM },
  { label: 'ioperm', name: 'ioperm', args: [0, 0, 0], expect: EPERM },
  { label: 'personality(ADDR_NO_RANDOMIZE)', name: 'personality', args: [0x0040000], expect: EPERM },
  { label: 'set_mempolicy', name: 'set_mempolicy', args: [0, 0, 0], expect: EPERM },
  { label: 'clock_settime', name: 'clock_settime', args: [0, 0], expect: EPERM },
  { label: 'settimeofday', name: 'settimeofday', args: [0, 0], expect: EPERM },
  { label: 'adjtimex', name: 'adjtimex', args: [0], expect: EPERM },
  { label: 'fanotify_init', name: 'fanotify_init', args: [0, 0], expect: EPERM },
  { label: 'socket(AF_UNIX)', name: 'socket', args: [1, 1, 0], expect: EPERM },
  { label: 'fallocate', name: 'fallocate', args: [-1, 0, 0, 1], expect: 'errno 95' },
];
/** Calls that run unprivileged without the filter: the control must show them not refused. */
const REACHABLE_WITHOUT_FILTER = [
  'keyctl',
  'add_key',
  'request_key',
  'perf_event_open',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'mount',
  'umount2',
  'unshare(0)',
  'setns',
  'clone(CLONE_NEWUSER|CLONE_FS)',
  'clone3',
  'ptrace',
  'process_vm_readv',
  'kcmp',
  'pidfd_getfd',
  'name_to_handle_at',
  'open_tree',
  'personality(ADDR_NO_RANDOMIZE)',
  'clock_settime',
  'adjtimex',
  'socket(AF_UNIX)',
  'fallocate',
];
/** Calls the filter lets through (their condition does not match). */
const ALLOWED: Probe[] = [
  { label: 'socket(AF_INET)', name: 'socket', args: [2, 1, 0] },
  { label: 'personality(query)', name: 'personality', args: [0xffffffff] },
];

/** Runs `argv` confined in `t`'s workspace by hand (optionally without parts of the confinement), extra fds after 3. */
function spawnConfined(
  t: SandboxTask,
  argv: string[],
  options: { drop?: string[][]; extraFds?: net.Socket[] } = {},
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
    stdio: ['ignore', 'pipe', 'pipe', filtered ? 'pipe' : 'ignore', ...(options.extraFds ?? [])],
  });
  if (filtered) (child.stdio[3] as NodeJS.WritableStream).end(seccompProgram());
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
