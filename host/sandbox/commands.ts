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
import { forgetFreshCheckout } from '../fresh-checkout';
import { runProcess, type RunProcessResult } from '../run-process';
import { startProcessFailure } from '../process';
import { recordSandboxEvent } from './audit';
import { confinedArgv, envArgsInput, sandboxEnv, sandboxProbe, type SandboxMount } from './bwrap';
import { seccompProgram } from './seccomp';
import type { SandboxConfig } from './config';
import type { SandboxUser, SandboxUserOf } from './uid-leases';
import { quotaCheck, settledQuotaProblem } from './workspace-quota';
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

  /**
   * Workspaces a command left past their quota. The watchdog polls once a second, so a command that
   * writes and exits within it is measured only at its exit; a run of such commands (an agent's
   * steps, a model's tool calls) wrote 2.8 GiB into a 2 GiB workspace, never stopped (found in
   * review). The next command in a workspace found past it starts only once it is back under.
   */
  const pastQuotaAt = new Set<string>();

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
    const quota = {
      countEntries: req.purpose !== 'setup',
      // A uid of the task's own: the worker's (a worker not run as root) holds files of its own.
      heldOpenBy: confined && user.uid !== process.getuid?.() ? user.uid : undefined,
    };
    const settled = () => settledQuotaProblem(req.workspacePath, deps.sandbox.limits, quota);
    if (pastQuotaAt.has(req.workspacePath)) {
      const still = await settled();
      if (still) {
        const reason = `not started: ${still}`;
        await record(req, false, reason, {});
        throw new PolicyViolationError({ op: 'run_command', path: req.argv.join(' ').slice(0, 200), reason });
      }
      pastQuotaAt.delete(req.workspacePath);
    }
    await forgetFreshCheckout(req.workspacePath);
    const cgroup = confined ? await commandCgroup(deps.sandbox.limits.commandMemoryBytes) : undefined;
    let held: { joined: boolean; killed?: string } | undefined;
    let run: RunProcessResult;
    try {
      run = await start(
        req,
        user,
        confined,
        cgroup?.enter ?? [],
        quotaCheck(req.workspacePath, deps.sandbox.limits, quota),
      );
    } finally {
      held = await cgroup?.release();
    }
    // Killed before it joined (its timeout, a cancellation, the gateway's stop): its program never ran, and the sandbox is not at fault.
    if (held && !held.joined && !run.killedReason) {
      const reason = 'the command never ran in its memory cgroup (it could not join it)';
      await record(req, false, reason, {});
      throw new SandboxUnavailableError(reason);
    }
    const atExit = await settled();
    if (atExit) pastQuotaAt.add(req.workspacePath);
    const pastQuota = atExit && !run.killedReason ? `past its quota at exit: ${atExit}` : undefined;
    // A kernel kill in its cgroup the command survived (a test runner losing one worker) is its own business.
    const killedReason = run.killedReason ?? pastQuota ?? (run.exitCode === 0 ? undefined : held?.killed);
    const result = { ...run, killedReason, sandbox: confined ? 'bwrap' : 'none' } as const;
    const { outputTail: _tail, ...evidence } = result;
    const memory = !confined ? 'none' : cgroup ? 'cgroup' : 'per process';
    await record(req, true, killedReason, { ...evidence, memory });
    // An agent's command that exits 0 past the quota is its agent's fault all the same (a last step, a whole CLI run).
    if (pastQuota && req.purpose === 'agent')
      throw new PolicyViolationError({ op: 'run_command', path: req.argv.join(' ').slice(0, 200), reason: pastQuota });
    return result;
  };

  /** Starts the command (confined, behind its gateway link, after `prefix`) and waits for it. */
  async function start(
    req: CommandRequest,
    user: SandboxUser,
    confined: boolean,
    prefix: string[],
    quota: () => Promise<string | undefined>,
  ) {
    const link = req.gateway;
    const launch = link ? relayLaunch(req.argv, link.homeFiles ?? {}) : undefined;
    // The agent's tool folders first: one may not hide the relay's own mounts.
    const mounts: SandboxMount[] = [
      ...(link?.toolDirs ?? []).map((d) => ({ kind: 'ro-bind' as const, from: d, to: d })),
      ...(launch?.mounts ?? []),
      ...(confined ? await dependencyMounts(req.dependencies, req.workspacePath) : []),
    ];
    const env = sandboxEnv({ ...req.env, ...launch?.env });
    let envArgs: Buffer | undefined;
    try {
      envArgs = confined ? envArgsInput(env) : undefined;
    } catch (err) {
      return startProcessFailure((err as Error).message); // as a NUL in an argv word fails to start
    }
    // Opened last: nothing may fail between it and the `finally` that closes it.
    const bridge: GatewayBridge | undefined = link
      ? await openGatewayBridge(link.socketPath, link.session.id)
      : undefined;
    return runProcess({
      argv: confined
        ? [...prefix, ...confinedArgv(req.workspacePath, launch?.argv ?? req.argv, deps.sandbox, user, mounts)]
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
      fd5Input: envArgs,
      signal: req.signal,
      watchdog: {
        intervalMs: 1000,
        check: async () => {
          const stopped = link?.session.stopReason;
          return stopped ? `stopped by the model gateway: ${stopped}` : quota();
        },
      },
    }).finally(() => bridge?.close());
  }
}

/** The command runner's interface. */
export type CommandRunner = ReturnType<typeof createCommandRunner>;
