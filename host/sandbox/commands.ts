/**
 * `run_command`: one program, as argv, confined by bwrap, with a wall-clock timeout that kills
 * the whole process group, capped output, a workspace size quota, and prompt termination on
 * cancellation. Without a working sandbox commands are refused (fail closed) unless the
 * development-only `unsafe-none` mode is configured, which is logged on every use.
 */
import * as path from 'node:path';
import { PolicyViolationError, SandboxUnavailableError } from '../../domain/errors';
import { SHELLS, type SandboxPolicy } from '../../domain/sandbox';
import type { Db } from '../../db/client';
import { runProcess, type RunProcessResult } from '../run-process';
import { SpawnedProgramError, spawnViaHelper } from '../spawner';
import { recordSandboxEvent } from './audit';
import { confinedArgv, sandboxEnv, sandboxProbe, type SandboxMount } from './bwrap';
import { seccompProgram } from './seccomp';
import type { SandboxConfig, SandboxLimits } from './config';
import type { SandboxUserOf } from './uid-leases';
import { openGatewayBridge, type GatewayBridge } from '../gateway/bridge';
import { relayLaunch } from '../gateway/launch';
import { dependencyMounts } from './dependency-mounts';
import { commandCgroup } from './memory-cgroup';
import type { GatewaySession } from '../gateway/session';

/** One command to run for a task. */
export interface CommandRequest {
  tenantId: string;
  taskId: string;
  workspacePath: string;
  argv: string[];
  policy: Pick<SandboxPolicy, 'allowShell'>;
  timeoutMs: number;
  /** `agent` for an agent's command, `gate` for a verification gate, `setup` for a policy's setup (recorded as the op). */
  purpose: 'agent' | 'gate' | 'setup' | 'operator';
  signal?: AbortSignal;
  /** Written to the command's stdin. */
  stdin?: string;
  /** Extra, non-secret environment for the command (e.g. the task prompt). */
  env?: Record<string, string>;
  /** The task's installed dependencies (see dependency-mounts), mounted read-only over the workspace. */
  dependencies?: string;
  /** The command's link to the model gateway (agents and setup only; gates never get one). */
  gateway?: CommandGatewayLink;
}

/** What a command needs to reach the gateway: the session it speaks as, and what to set up first. */
export interface CommandGatewayLink {
  socketPath: string;
  session: GatewaySession;
  /** Files written under the private HOME before the command starts. */
  homeFiles?: Record<string, string>;
  /** Host directories bound read-only at the same path (the agent CLI's installation). */
  toolDirs?: string[];
}

/** The run's evidence plus how it was confined. */
export interface CommandResult extends RunProcessResult {
  sandbox: 'bwrap' | 'none';
}

const DU_ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };

/**
 * `du -s -x` of `dir` with `flags`: its total. du exits 1 when a file vanished while it walked (a
 * build churning its files), and still prints the total: an agent churning on purpose must not
 * turn every check into an error the watchdog skips.
 */
async function du(dir: string, flags: string[]): Promise<number> {
  const out = await spawnViaHelper('du', ['-s', '-x', ...flags, dir], { env: DU_ENV, maxBuffer: 4096 }).catch(
    (err: unknown) => {
      if (err instanceof SpawnedProgramError && err.code === 1 && err.stdout.length > 0) return err.stdout;
      throw err;
    },
  );
  const total = Number(out.toString('utf8').split('\t')[0]);
  if (!Number.isFinite(total)) throw new Error(`du printed no total for ${dir}`);
  return total;
}

/**
 * Why the workspace is past its quota (same filesystem only), if it is: its size is the larger of
 * the disk it occupies and what a copy of it writes, every file at its apparent length once per
 * name. Sparse files and hardlinks cost almost no disk, yet the snapshot git reads and each gate's
 * fresh checkout write them out in full; many tiny files cost whole blocks. Its entries are the
 * inodes it uses, of the disk's fixed number; a repository's setup (its owner's command, whose
 * outputs leave the workspace) is not held to that count.
 */
async function pastQuota(dir: string, limits: SandboxLimits, countEntries: boolean): Promise<string | undefined> {
  const [disk, copied, entries] = await Promise.all([
    du(dir, ['-B1']),
    du(dir, ['-B1', '--apparent-size', '--count-links']),
    countEntries ? du(dir, ['--inodes']) : 0,
  ]);
  if (Math.max(disk, copied) > limits.workspaceBytes) return `workspace grew past ${limits.workspaceBytes} bytes`;
  if (entries > limits.workspaceEntries) return `workspace holds more than ${limits.workspaceEntries} entries`;
  return undefined;
}

/** Checks a workspace can fail in a row before its command is stopped: a quota nobody can read holds nothing. */
const MAX_UNMEASURED_CHECKS = 5;

/** Builds the command runner; `db` is optional so operators can run commands without a task. */
export function createCommandRunner(deps: {
  db?: Db;
  sandbox: SandboxConfig;
  /** The uid the request's task runs as (its lease); never shared with another task. */
  sandboxUser: SandboxUserOf;
  warn: (message: string, meta: Record<string, unknown>) => void;
}) {
  const record = async (
    req: CommandRequest,
    allowed: boolean,
    reason: string | undefined,
    detail: Record<string, unknown>,
  ) => {
    if (deps.db)
      await recordSandboxEvent(deps.db, {
        tenantId: req.tenantId,
        taskId: req.taskId,
        kind: 'command',
        op: req.purpose,
        path: req.argv.join(' ').slice(0, 500),
        allowed,
        reason,
        detail,
      });
  };

  return async function runCommand(req: CommandRequest): Promise<CommandResult> {
    if (req.argv.length === 0) throw new PolicyViolationError({ op: 'run_command', path: '', reason: 'empty command' });
    const program = path.basename(req.argv[0]);
    if (SHELLS.includes(program) && !req.policy.allowShell) {
      const reason = `'${program}' is a shell and this task's policy does not allow one; pass argv directly`;
      await record(req, false, reason, {});
      throw new PolicyViolationError({ op: 'run_command', path: req.argv.join(' ').slice(0, 200), reason });
    }
    const confined = deps.sandbox.mode === 'bwrap';
    const user = await deps.sandboxUser(req).catch(async (err: Error) => {
      await record(req, false, err.message, {});
      throw err;
    });
    if (confined) {
      const probe = sandboxProbe(deps.sandbox, user);
      if (!probe.ok) {
        await record(req, false, `sandbox unavailable: ${probe.reason}`, {});
        throw new SandboxUnavailableError(probe.reason);
      }
    } else {
      deps.warn('UNSAFE: running a command WITHOUT a sandbox (ARBITER_SANDBOX=unsafe-none, development only)', {
        argv: req.argv,
      });
    }
    if (req.gateway && !confined) {
      const reason = 'the model gateway needs the bwrap sandbox (ARBITER_SANDBOX=unsafe-none has none)';
      await record(req, false, reason, {});
      throw new SandboxUnavailableError(reason);
    }
    const link = req.gateway;
    const launch = link ? relayLaunch(req.argv, link.homeFiles ?? {}) : undefined;
    const bridge: GatewayBridge | undefined = link
      ? await openGatewayBridge(link.socketPath, link.session.id)
      : undefined;
    const mounts: SandboxMount[] = [
      ...(launch?.mounts ?? []),
      ...(link?.toolDirs ?? []).map((d) => ({ kind: 'ro-bind' as const, from: d, to: d })),
      ...(confined ? await dependencyMounts(req.dependencies, req.workspacePath) : []),
    ];
    let unmeasured = 0;
    const cgroup = confined ? await commandCgroup(deps.sandbox.limits.memoryBytes) : undefined;
    let outOfMemory: string | undefined;
    const run = await runProcess({
      argv: confined
        ? [
            ...(cgroup?.enter ?? []),
            ...confinedArgv(
              req.workspacePath,
              launch?.argv ?? req.argv,
              deps.sandbox,
              user,
              sandboxEnv({ ...req.env, ...launch?.env }),
              mounts,
            ),
          ]
        : req.argv,
      cwd: confined ? '/' : req.workspacePath,
      env: confined
        ? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }
        : sandboxEnv({ HOME: req.workspacePath, TMPDIR: req.workspacePath, ...req.env }),
      stdinInput: req.stdin === undefined ? undefined : Buffer.from(req.stdin),
      timeoutMs: req.timeoutMs,
      maxOutputBytes: deps.sandbox.limits.outputBytes,
      fd3Input: confined ? seccompProgram() : undefined,
      fd4Socket: bridge?.childEnd,
      signal: req.signal,
      watchdog: {
        intervalMs: 1000,
        check: async () => {
          const stopped = link?.session.stopReason;
          if (stopped) return `stopped by the model gateway: ${stopped}`;
          try {
            const reason = await pastQuota(req.workspacePath, deps.sandbox.limits, req.purpose !== 'setup');
            unmeasured = 0;
            return reason;
          } catch (err) {
            if (++unmeasured < MAX_UNMEASURED_CHECKS) return undefined;
            return `the workspace could not be measured ${unmeasured} times in a row: ${(err as Error).message}`;
          }
        },
      },
    }).finally(async () => {
      bridge?.close();
      outOfMemory = await cgroup?.release();
    });
    const result = {
      ...run,
      killedReason: run.killedReason ?? outOfMemory,
      sandbox: confined ? 'bwrap' : 'none',
    } as const;
    const { outputTail: _tail, ...evidence } = result;
    await record(req, true, result.killedReason, { ...evidence, memory: cgroup ? 'cgroup' : 'per process' });
    return result;
  };
}

/** The command runner's interface. */
export type CommandRunner = ReturnType<typeof createCommandRunner>;
