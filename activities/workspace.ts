/**
 * Task workspaces: a private work tree of the target repository at its base commit, one per task,
 * on the worker that prepared it. The agent works in `tree/`; git's own data lives beside it in
 * `git/`, out of the agent's reach. The target checkout is only read. Preparing again (a retry,
 * a rebuild on another host) starts from scratch, so two attempts never mix; only the task's
 * sandbox uid is kept. Attempts on one host take turns, and one superseded by a later attempt
 * changes nothing (host/workspace-lock.ts); a released workspace keeps only that record until the
 * retention sweep.
 */
import * as fs from 'node:fs/promises';
import { Context, log } from '@temporalio/activity';
import { PrepareWorkspaceInput, ReleaseWorkspaceInput, type PreparedWorkspace } from '../domain/activity-io';
import { TargetRepoError } from '../domain/errors';
import type { ActivityDeps } from './deps';
import { workspaceDirs } from '../host/git';
import { LEASE_FILE, leaseSandboxUser, releaseSandboxUser, type SandboxUser } from '../host/sandbox/uid-leases';
import { claimWorkspace, LOCK_PATIENCE_MS, withWorkspaceLock } from '../host/workspace-lock';
import {
  borrowObjects,
  checkoutFileCount,
  emptyWorkspaceRoot,
  makeTraversable,
  repoBase,
  resetWorkspace,
  recordWorkspaceBase,
  type RepoBase,
} from '../host/workspace';
import { retainWorkspace, RETENTION_MARKER } from '../host/workspace-retention';
import { parseActivityInput } from './input';
import { requireTenantRepo } from './repos';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';

/** Fills the workspace root from scratch: the task's uid (kept from an earlier attempt), a git directory, the tree at the base. */
async function buildWorkspace(
  { home, sandbox }: Pick<ActivityDeps, 'home' | 'sandbox'>,
  ws: ReturnType<typeof workspaceDirs>,
  base: RepoBase,
): Promise<SandboxUser> {
  await makeTraversable(home, ws.root);
  const user = await leaseSandboxUser(home, ws.root, sandbox.uids);
  await emptyWorkspaceRoot(ws.root, [LEASE_FILE]);
  // Bare, so git finds a work tree only where a call names one (`--work-tree`).
  await borrowObjects(ws.root, ws.gitDir, base);
  await recordWorkspaceBase(ws.gitDir, base.commit);
  await resetWorkspace(ws, base.commit, user);
  // The walk before measurement blames the agent for a tree past the quota: not for the base's size.
  const files = await checkoutFileCount(ws.gitDir);
  if (files > sandbox.limits.workspaceEntries)
    throw new TargetRepoError(
      `the checkout of ${base.commit} holds ${files} files, more than a workspace may (ARBITER_WORKSPACE_MAX_ENTRIES, ${sandbox.limits.workspaceEntries})`,
    );
  return user;
}

/**
 * Runs `fn`, a change to the workspace at `root`, as this attempt: holding its lock, unless a later
 * attempt changed it. The root is made if missing (a release on a host that never prepared it
 * leaves its mark too). The wait for the lock ends well within the attempt's own timeout.
 */
async function asLatestAttempt<T>(root: string, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(root, { recursive: true });
  const { info, cancellationSignal } = Context.current();
  const patienceMs = Math.min(LOCK_PATIENCE_MS, (info.startToCloseTimeoutMs || Infinity) / 2);
  const claimed = async () => {
    await claimWorkspace(root, info.currentAttemptScheduledTimestampMs);
    return fn();
  };
  return withWorkspaceLock(root, cancellationSignal, claimed, patienceMs);
}

/** Builds `prepareWorkspace` and `releaseWorkspace`. */
export function createWorkspaceActivities({ db, home, hostQueue, sandbox, retentionHours }: ActivityDeps) {
  return {
    async prepareWorkspace(raw: PrepareWorkspaceInput): Promise<PreparedWorkspace> {
      const input = parseActivityInput(PrepareWorkspaceInput, raw);
      await requireOwnTask(db, input, currentRun(), { open: true, repoPath: input.repoPath });
      await requireTenantRepo({ db }, input.tenantId, input.repoPath);
      const ref = input.baseRef ?? 'HEAD';
      const base = await repoBase(input.repoPath, ref);
      if (!base) throw new TargetRepoError(`'${ref}' does not name a commit in ${input.repoPath}`);
      const baseCommit = base.commit;
      const ws = workspaceDirs(home, input.tenantId, input.taskId);
      const user = await asLatestAttempt(ws.root, () => buildWorkspace({ home, sandbox }, ws, base));
      log.info('workspace prepared', { workspacePath: ws.tree, baseCommit, hostQueue, sandboxUid: user.uid });
      return { workspacePath: ws.tree, baseCommit, hostQueue };
    },

    async releaseWorkspace(raw: ReleaseWorkspaceInput): Promise<void> {
      const input = parseActivityInput(ReleaseWorkspaceInput, raw);
      await requireOwnTask(db, input, currentRun());
      const ws = workspaceDirs(home, input.tenantId, input.taskId);
      const until = new Date(Date.now() + retentionHours * 3_600_000);
      await asLatestAttempt(ws.root, async () => {
        // Marked first, so a release that fails halfway still leaves the root to the sweep.
        await retainWorkspace(ws.root, until);
        // Released, the root keeps its attempt mark until the sweep, so an older attempt still under way cannot rebuild it.
        if (!input.keep) await emptyWorkspaceRoot(ws.root, [RETENTION_MARKER]);
        else await releaseSandboxUser(ws.root);
      });
      if (input.keep)
        log.info('workspace retained for inspection', { workspacePath: ws.tree, until: until.toISOString() });
      else log.info('workspace released', { workspacePath: ws.tree });
    },
  };
}
