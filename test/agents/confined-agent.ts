/**
 * Runs a command agent's config the way Arbiter confines commands (host/sandbox/bwrap.ts:
 * setpriv to the sandbox user, prlimit, bwrap with a read-only root, the workspace at
 * /workspace, a private /tmp), plus what the model gateway will add: the CLI's tool
 * directories bound read-only, a private HOME on its own tmpfs holding the config's HOME
 * files, and placeholders filled in. Until the gateway exists the sandbox keeps the host's
 * network (`--share-net`) so the CLI reaches the fake model on host loopback: that flag is
 * this experiment's only deviation from Arbiter's confinement.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { expandRecord } from '../../domain/agent-placeholders';
import type { CommandConfig } from '../../domain/agent';
import { confinedArgv, sandboxEnv } from '../../host/sandbox/bwrap';
import { DEFAULT_SANDBOX_CONFIG } from '../../host/sandbox/config';
import { seccompProgram } from '../../host/sandbox/seccomp';

/** The private HOME inside the sandbox. */
export const SANDBOX_HOME = '/home/agent';

/** One confined run's outcome. */
export interface ConfinedRun {
  code: number | null;
  output: string;
  argv: string[];
}

/** Options of {@link runConfinedAgent}. */
export interface ConfinedAgentOptions {
  config: CommandConfig;
  workspace: string;
  prompt: string;
  /** Where `{gateway:<name>}` points: `<origin>/u/<name>`, the gateway's path shape. */
  gatewayOrigin: string;
  token: string;
  /** Environment the sandbox itself sets (e.g. the relay as HTTP(S)_PROXY), under the config's. */
  sandboxEnv?: Record<string, string>;
  timeoutMs?: number;
}

/** The bwrap options a run adds before the root is made read-only; `files` go to fds 4, 5, …. */
function extraArgs(config: CommandConfig, homeFiles: Record<string, string>) {
  const args = ['--share-net'];
  for (const dir of config.toolDirs) args.push('--ro-bind', dir, dir);
  args.push('--size', String(64 * 1024 * 1024), '--tmpfs', SANDBOX_HOME);
  const files: string[] = [];
  for (const [rel, content] of Object.entries(homeFiles)) {
    const dest = path.posix.join(SANDBOX_HOME, rel);
    args.push('--dir', path.posix.dirname(dest), '--perms', '0600', '--file', String(4 + files.length), dest);
    files.push(content);
  }
  return { args, files };
}

/** Runs `config` confined in `workspace` with `prompt` delivered as the config says. */
export function runConfinedAgent(o: ConfinedAgentOptions): Promise<ConfinedRun> {
  const values = {
    gateway: (name: string) =>
      o.config.gateway?.upstreams.some((u) => u.name === name) ? `${o.gatewayOrigin}/u/${name}` : undefined,
    token: o.token,
    home: SANDBOX_HOME,
  };
  const env = sandboxEnv({
    HOME: SANDBOX_HOME,
    ...o.sandboxEnv,
    ...expandRecord(o.config.env, values),
    ...(o.config.promptVia === 'env' ? { ARBITER_PROMPT: o.prompt } : {}),
  });
  const argvIn =
    o.config.promptVia === 'arg' ? o.config.argv.map((a) => a.split('{prompt}').join(o.prompt)) : o.config.argv;
  const base = confinedArgv(o.workspace, argvIn, DEFAULT_SANDBOX_CONFIG, env);
  const { args, files } = extraArgs(o.config, expandRecord(o.config.homeFiles, values));
  const at = base.indexOf('--remount-ro');
  const argv = [...base.slice(0, at), ...args, ...base.slice(at)];
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: '/',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe', 'pipe', ...files.map(() => 'pipe' as const)],
    });
    const feed = (fd: number, data: string | Buffer) => {
      const stream = child.stdio[fd] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      stream.on('error', () => undefined);
      stream.end(data);
    };
    feed(0, o.config.promptVia === 'stdin' ? o.prompt : '');
    feed(3, seccompProgram());
    files.forEach((content, i) => feed(4 + i, content));
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => {
      output += '\n[timed out]';
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    }, o.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, argv });
    });
  });
}
