/**
 * Shared set-up for the escape suite: a real task workspace prepared from a real target repo,
 * the real file tools and command runner (bwrap), the task's audit rows, a host directory of
 * sentinels the sandbox must never reach, and fingerprints to prove the host is unchanged.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, asc, eq, gt } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { createCommandRunner, type CommandResult } from '../../host/sandbox/commands';
import type { SandboxConfig } from '../../host/sandbox/config';
import { createFileTools } from '../../host/sandbox/file-tools';
import { taskSandboxUser } from '../../host/workspace';
import { sandboxEvents } from '../../db/schema';
import type { PreparedWorkspace } from '../../domain/activity-io';
import { PolicyViolationError } from '../../domain/errors';
import type { SandboxPolicy } from '../../domain/sandbox';
import { makeRepo, registerRepo, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testSandboxConfig, testStack } from '../helpers/stack';
import { ownTask } from '../helpers/tasks';
import { tempDir } from '../helpers/temp';

/** Everything may be written by scope: refusals in this suite come from confinement, not scope. */
export const OPEN_POLICY: SandboxPolicy = { scopeIn: ['**'], scopeOut: [], riskTier: 3, allowShell: false };

/** A config with smaller limits for the resource cases. */
export function smallConfig(limits: Partial<SandboxConfig['limits']>): SandboxConfig {
  const base = testSandboxConfig();
  return { ...base, limits: { ...base.limits, ...limits } };
}

/** A host directory outside every workspace, with a sentinel file whose content must never change. */
export interface HostDir {
  dir: string;
  sentinel: string;
  content: string;
  /** A path inside `dir` that must never come to exist. */
  missing: string;
}

export function hostDir(): HostDir {
  const dir = tempDir('arbiter-host-');
  const sentinel = path.join(dir, 'sentinel.txt');
  const content = `host-original ${uniqueId('secret')}\n`;
  writeFileSync(sentinel, content);
  return { dir, sentinel, content, missing: path.join(dir, 'created-by-escape') };
}

/** The host directory is exactly as made: the sentinel unchanged, nothing added. */
export function assertHostDirUnchanged(h: HostDir): void {
  assert.equal(readFileSync(h.sentinel, 'utf8'), h.content, 'the host sentinel is unchanged');
  assert.deepEqual(readdirSync(h.dir), ['sentinel.txt'], 'nothing was created in the host directory');
}

/** Every entry under `dir` (not following symlinks): type, mode, owner, size, content digest or link target. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    const st = lstatSync(p);
    const head = `${st.mode.toString(8)} ${st.uid}:${st.gid}`;
    if (st.isSymbolicLink()) out[rel] = `${head} -> ${readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = `${head} ${st.size} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`;
    else if (st.isDirectory()) {
      out[rel] = head;
      for (const name of readdirSync(p).sort()) walk(path.join(p, name), rel ? `${rel}/${name}` : name);
    } else out[rel] = `${head} special`;
  };
  walk(dir, '');
  return out;
}

/** The parts of a workspace git dir nothing but Arbiter may change: config, hooks, HEAD, info, the borrowed object store. */
export function gitControlFingerprint(gitDir: string): Record<string, string> {
  const all = fingerprint(gitDir);
  return Object.fromEntries(
    Object.entries(all).filter(
      ([k]) =>
        k === 'config' ||
        k === 'HEAD' ||
        k === 'objects/info/alternates' ||
        k.startsWith('hooks') ||
        k.startsWith('info'),
    ),
  );
}

/** Processes on the host whose command line contains `marker`. */
export function hostProcessesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Waits until no host process carries `marker` (the sandbox is torn down asynchronously), or fails. */
export async function assertNoProcessesLeft(marker: string, withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  let left = hostProcessesWith(marker);
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    left = hostProcessesWith(marker);
  }
  assert.deepEqual(left, [], `no process carrying '${marker}' survives on the host`);
}

type EventRow = typeof sandboxEvents.$inferSelect;

/** One task with a real workspace, the real file tools and the real bwrap command runner. */
export interface SandboxTask {
  tenantId: string;
  taskId: string;
  repo: string;
  tree: string;
  gitDir: string;
  baseCommit: string;
  config: SandboxConfig;
  /** The unprivileged uid (and gid) this task's commands run as. */
  uid: number;
  tools: ReturnType<typeof createFileTools>;
  activities: ReturnType<typeof createActivities>;
  env: MockActivityEnvironment;
  warnings: string[];
  /** Runs a command as an agent's would run (argv, no shell unless `allowShell`). */
  run(
    argv: string[],
    options?: { allowShell?: boolean; timeoutMs?: number; env?: Record<string, string> },
  ): Promise<CommandResult>;
  /** The task's audit rows after `afterId` (all by default), oldest first. */
  events(afterId?: number): Promise<EventRow[]>;
  /** Id of the newest audit row so far (0 when none). */
  lastEventId(): Promise<number>;
  /** The call fails with a PolicyViolationError and adds a refused `file` row for `op` with a reason. */
  expectRefused(op: string, call: () => Promise<unknown>): Promise<EventRow>;
  /** The command's audit row (the newest `command` row), checked against its result. */
  commandRow(result: CommandResult): Promise<EventRow>;
  /** Measures the diff as verification does (runs git on the host over the tree). */
  measureDiff(): Promise<{ filesChanged: number }>;
  release(): Promise<void>;
}

export async function sandboxTask(
  options: { files?: Record<string, string>; repo?: string; config?: SandboxConfig } = {},
): Promise<SandboxTask> {
  const { database, home } = testStack();
  const db = database.db;
  const config = options.config ?? testSandboxConfig();
  const activities = createActivities(testActivityDeps({ db, home, sandbox: config }));
  // Scheduled now, as the server schedules a real run's: a workspace marked in 1970 (the mock's
  // default) with no record and no run looks abandoned to the host sweep that fires every hour.
  const now = Date.now();
  const env = new MockActivityEnvironment({ scheduledTimestampMs: now, currentAttemptScheduledTimestampMs: now });
  const tenantId = uniqueId('tenant');
  const taskId = uniqueId('task');
  const repo = realpathSync(options.repo ?? makeRepo(options.files));
  await registerRepo(tenantId, repo);
  await ownTask(env, { tenantId, taskId }, repo);
  const ws = (await env.run(activities.prepareWorkspace, { tenantId, taskId, repoPath: repo })) as PreparedWorkspace;
  const sandboxUser = taskSandboxUser(home, config);
  const user = await sandboxUser({ tenantId, taskId });
  const tools = createFileTools({ db, sandbox: config, sandboxUser });
  const warnings: string[] = [];
  const runCommand = createCommandRunner({ db, sandbox: config, sandboxUser, warn: (m) => warnings.push(m) });

  const events = (afterId = 0) =>
    db
      .select()
      .from(sandboxEvents)
      .where(and(eq(sandboxEvents.tenantId, tenantId), eq(sandboxEvents.taskId, taskId), gt(sandboxEvents.id, afterId)))
      .orderBy(asc(sandboxEvents.id));
  const lastEventId = async () => (await events()).at(-1)?.id ?? 0;

  const task: SandboxTask = {
    tenantId,
    taskId,
    repo,
    tree: ws.workspacePath,
    gitDir: path.join(path.dirname(ws.workspacePath), 'git'),
    baseCommit: ws.baseCommit,
    config,
    uid: user.uid,
    tools,
    activities,
    env,
    warnings,
    run: (argv, o = {}) =>
      runCommand({
        tenantId,
        taskId,
        workspacePath: ws.workspacePath,
        argv,
        policy: { allowShell: o.allowShell ?? false },
        timeoutMs: o.timeoutMs ?? 10_000,
        purpose: 'agent',
        env: o.env,
      }),
    events,
    lastEventId,
    async expectRefused(op, call) {
      const before = await lastEventId();
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof PolicyViolationError, `expected a PolicyViolationError, got ${String(err)}`);
        return true;
      });
      const rows = (await events(before)).filter((r) => r.kind === 'file' && r.op === op);
      assert.equal(rows.length, 1, `one '${op}' row recorded for the refusal`);
      assert.equal(rows[0].allowed, false, 'recorded as refused');
      assert.ok(rows[0].reason && rows[0].reason.length > 0, 'the refusal says why');
      return rows[0];
    },
    async commandRow(result) {
      const row = (await events()).filter((r) => r.kind === 'command').at(-1);
      assert.ok(row, 'the command is recorded');
      const detail = row.detail as Record<string, unknown>;
      assert.equal(detail.exitCode, result.exitCode, 'the recorded exit code is the result');
      assert.equal(detail.outputDigest, result.outputDigest, 'the recorded output digest is the result');
      assert.equal(detail.sandbox, 'bwrap', 'recorded as confined');
      assert.equal(row.reason ?? undefined, result.killedReason, 'the kill reason (if any) is recorded');
      return row;
    },
    measureDiff: () =>
      env.run(activities.measureDiff, { tenantId, taskId, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit }),
    release: () => env.run(activities.releaseWorkspace, { tenantId, taskId }),
  };
  assert.equal(existsSync(task.gitDir), true, 'the workspace git dir is the sibling of the tree');
  return task;
}
