/**
 * The confinement every command runs in: `setpriv` to an unprivileged user (when the worker is
 * root, so the process limit holds), `prlimit` for memory, processes, file size and CPU, and
 * `bwrap` for the rest — no network, a cleared environment, the system read-only, the
 * workspace the only writable place besides a private /tmp, and a fresh pid namespace that
 * dies with its parent. The command's environment reaches bwrap on a pipe, not its command line:
 * every host user reads `/proc/<pid>/cmdline`, and an agent's environment carries its gateway
 * token and prompt. Nor is it the launchers' own: `setpriv` runs as root, and a `PATH` or
 * `LD_PRELOAD` from an agent's config would choose what it runs.
 */
import { reportSandboxAvailable } from '../metrics';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { seccompProgram } from './seccomp';
import { runningAsRoot, type SandboxConfig } from './config';
import type { SandboxUser } from './uid-leases';

/** Where the workspace appears inside the sandbox. */
const SANDBOX_WORKSPACE = '/workspace';

/** System paths mounted read-only when present; nothing from the worker's home or /etc secrets. */
const READ_ONLY = [
  '/usr',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/ssl/certs',
  '/etc/ca-certificates',
];
/** Merged-/usr systems link these; on others they are real directories and are bound instead. */
const USR_LINKS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

/** The environment a command sees: fixed values, none of the worker's. */
export function sandboxEnv(extra: Record<string, string> = {}): Record<string, string> {
  // HOME is the private /tmp: tools' caches and dotfiles must not land in the workspace (and its diff).
  return { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', TMPDIR: '/tmp', LANG: 'C.UTF-8', CI: 'true', ...extra };
}

/** The descriptor bwrap reads the command's environment from (`--args`): after the seccomp filter's 3 and the gateway's 4. */
export const ENV_ARGS_FD = 5;

/**
 * `env` as bwrap's `--args` reads it: `--setenv NAME VALUE` for each, NUL-separated. A NUL inside
 * a name or value would end it early and make the rest bwrap options of the caller's choosing.
 */
export function envArgsInput(env: Record<string, string>): Buffer {
  const withNul = Object.entries(env).find(([k, v]) => k.includes('\0') || v.includes('\0'));
  if (withNul) throw new TypeError(`environment variable '${withNul[0].replace(/\0/g, '\\0')}' holds a NUL`);
  return Buffer.from(
    Object.entries(env)
      .map(([k, v]) => `--setenv\0${k}\0${v}\0`)
      .join(''),
  );
}

/** A mount a command needs beyond the standard ones: a read-only bind, or a private sized tmpfs. */
export type SandboxMount =
  { kind: 'ro-bind'; from: string; to: string } | { kind: 'tmpfs'; path: string; bytes: number };

function mountArgs(m: SandboxMount): string[] {
  return m.kind === 'ro-bind' ? ['--ro-bind', m.from, m.to] : ['--size', String(m.bytes), '--tmpfs', m.path];
}

function bwrapArgs(workspace: string, config: SandboxConfig, mounts: readonly SandboxMount[]): string[] {
  // A user namespace is what lets an unprivileged bwrap build the rest; --disable-userns (which needs it named)
  // keeps the command from making one of its own, where it would be root and could mount and unshare again.
  const args = ['--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session'];
  args.push('--hostname', 'sandbox', '--clearenv');
  for (const p of READ_ONLY) if (existsSync(p)) args.push('--ro-bind', p, p);
  for (const name of USR_LINKS) {
    const inUsr = `/usr/${name}`;
    if (existsSync(inUsr)) args.push('--symlink', `usr/${name}`, `/${name}`);
    else if (existsSync(`/${name}`)) args.push('--ro-bind', `/${name}`, `/${name}`);
  }
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(config.limits.tmpBytes), '--tmpfs', '/tmp');
  // /dev/shm gets its own sized tmpfs; bwrap's root and /dev tmpfs have no size limit, so both go read-only.
  args.push('--size', String(config.limits.tmpBytes), '--tmpfs', '/dev/shm');
  args.push('--bind', workspace, SANDBOX_WORKSPACE);
  // After the workspace: a bind under /workspace (installed dependencies) must land on top of it.
  for (const m of mounts) args.push(...mountArgs(m));
  args.push('--chdir', SANDBOX_WORKSPACE, '--remount-ro', '/dev', '--remount-ro', '/');
  args.push('--args', String(ENV_ARGS_FD));
  return args;
}

/**
 * Files each process of a command may hold open. Inherited, it was the worker's (often a million):
 * the quota's scan of the task's open files could be held up for seconds a check, and the kernel
 * bounds the files a uid keeps in flight over unix sockets by this too.
 */
const OPEN_FILES = 4096;

/**
 * The full argv that runs `argv` confined in `workspace` as `user` (its task's uid, when the worker
 * is root), with extra `mounts`. Its environment goes on {@link ENV_ARGS_FD} ({@link envArgsInput}).
 */
export function confinedArgv(
  workspace: string,
  argv: string[],
  config: SandboxConfig,
  user: SandboxUser,
  mounts: readonly SandboxMount[] = [],
): string[] {
  const l = config.limits;
  const dropPrivileges = runningAsRoot()
    ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups']
    : [];
  const limits = [
    'prlimit',
    `--nproc=${l.processes}`,
    `--data=${l.memoryBytes}`,
    `--fsize=${l.fileBytes}`,
    `--cpu=${l.cpuSeconds}`,
    `--nofile=${OPEN_FILES}`,
    '--core=0',
  ];
  return [
    ...dropPrivileges,
    ...limits,
    'bwrap',
    '--seccomp',
    '3',
    ...bwrapArgs(workspace, config, mounts),
    '--',
    ...argv,
  ];
}

let probe: { ok: boolean; reason: string } | undefined;

/** A file of `content` open for reading, for a synchronous spawn's extra descriptor: in a folder of its own, no other user's to swap. */
function inputFile(content: Buffer): { fd: number; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-probe-'));
  const file = path.join(dir, 'input');
  writeFileSync(file, content, { flag: 'wx', mode: 0o600 });
  const fd = openSync(file, 'r');
  return {
    fd,
    remove: () => {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether confinement works on this host: runs `true` in a sandbox once per process. Missing
 * bwrap, disabled user namespaces or a missing setpriv/prlimit all show up here, with why.
 */
export function sandboxProbe(
  config: SandboxConfig,
  user: SandboxUser,
  workspace = '/tmp',
): { ok: boolean; reason: string } {
  if (probe) return probe;
  const argv = confinedArgv(workspace, ['true'], config, user);
  // The filter and the environment travel on fds 3 and 5 as they do for real commands; synchronously, through files.
  const filter = inputFile(seccompProgram());
  const env = inputFile(envArgsInput(sandboxEnv()));
  const run = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    stdio: ['ignore', 'pipe', 'pipe', filter.fd, 'ignore', env.fd],
  });
  filter.remove();
  env.remove();
  if (run.error) probe = { ok: false, reason: `${argv[0]} cannot run: ${run.error.message}` };
  else if (run.status !== 0)
    probe = { ok: false, reason: `bwrap failed: ${(run.stderr || `exit ${run.status}`).trim()}` };
  else {
    const uids = `, each task's commands run as its own uid from ${config.uids.first}-${config.uids.last}`;
    probe = { ok: true, reason: `bwrap works${runningAsRoot() ? uids : ''}` };
  }
  reportSandboxAvailable(probe.ok);
  return probe;
}

/** Forgets the cached probe result, so a test can probe a different configuration. */
export function resetSandboxProbe(): void {
  probe = undefined;
}
