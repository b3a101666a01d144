/**
 * Task workspaces: a private copy of the target repository at its base commit, one per task,
 * on the worker that prepared it. The agent works in `tree/`; git's own data lives beside it in
 * `git/`, out of the agent's reach. The target checkout is only read. Preparing again (a retry,
 * a rebuild on another host) starts from scratch, so two attempts never mix; only the task's
 * sandbox uid is kept.
 */
import * as fs from 'node:fs/promises';
import { log } from '@temporalio/activity';
import { PrepareWorkspaceInput, ReleaseWorkspaceInput, type PreparedWorkspace } from '../domain/activity-io';
import { TargetRepoError } from '../domain/errors';
import type { ActivityDeps } from './deps';
import { git, GitCommandError, workspaceDirs } from '../host/git';
import { leaseSandboxUser } from '../host/sandbox/uid-leases';
import { emptyWorkspaceRoot, makeTraversable, repoCommit, resetWorkspace } from '../host/workspace';
import { retainWorkspace } from '../host/workspace-retention';
import { parseActivityInput } from './input';

/** Builds `prepareWorkspace` and `releaseWorkspace`. */
export function createWorkspaceActivities({ home, hostQueue, sandbox, retentionHours }: ActivityDeps) {
  return {
    async prepareWorkspace(raw: PrepareWorkspaceInput): Promise<PreparedWorkspace> {
      const input = parseActivityInput(PrepareWorkspaceInput, raw);
      const ref = input.baseRef ?? 'HEAD';
      const baseCommit = await repoCommit(input.repoPath, ref);
      if (!baseCommit) throw new TargetRepoError(`'${ref}' does not name a commit in ${input.repoPath}`);
      const ws = workspaceDirs(home, input.tenantId, input.taskId);
      await fs.mkdir(ws.root, { recursive: true });
      await makeTraversable(home, ws.root);
      // The task's own uid, held while its workspace exists (the same one again on a retry); released by removing it.
      const user = await leaseSandboxUser(home, ws.root, sandbox.uids);
      await emptyWorkspaceRoot(ws.root);
      // A bare clone (no hardlinks: no inode shared with the target's object store) as the git dir; it stays
      // bare, so git finds a work tree only where a call names one (`--work-tree`).
      await git(ws.root, ['clone', '--quiet', '--bare', '--no-hardlinks', input.repoPath, ws.gitDir]);
      await resetWorkspace(ws, baseCommit, user).catch(async (err: unknown) => {
        if (!(err instanceof GitCommandError)) throw err;
        // A base no branch reaches is not in the clone: fetched by its id, then checked out again.
        await git(ws.gitDir, ['fetch', '--quiet', input.repoPath, baseCommit]);
        await resetWorkspace(ws, baseCommit, user);
      });
      log.info('workspace prepared', { workspacePath: ws.tree, baseCommit, hostQueue, sandboxUid: user.uid });
      return { workspacePath: ws.tree, baseCommit, hostQueue };
    },

    async releaseWorkspace(raw: ReleaseWorkspaceInput): Promise<void> {
      const input = parseActivityInput(ReleaseWorkspaceInput, raw);
      const ws = workspaceDirs(home, input.tenantId, input.taskId);
      if (input.keep) {
        const until = new Date(Date.now() + retentionHours * 3_600_000);
        await retainWorkspace(ws.root, until);
        log.info('workspace retained for inspection', { workspacePath: ws.tree, until: until.toISOString() });
        return;
      }
      await fs.rm(ws.root, { recursive: true, force: true }); // its uid lease goes with it
      log.info('workspace released', { workspacePath: ws.tree });
    },
  };
}
