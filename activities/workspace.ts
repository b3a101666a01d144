/**
 * `prepareWorkspace`: a private clone of the target repository at its base commit, one per
 * task. The agent works there; the target checkout is only ever read (and, on delivery, gains
 * a branch). A retry rebuilds the workspace from scratch, so attempts never mix.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { log } from '@temporalio/activity';
import { PrepareWorkspaceInput, type PreparedWorkspace } from '../domain/activity-io';
import { TargetRepoError } from '../domain/errors';
import type { ActivityDeps } from './deps';
import { git, resolveCommit } from './git';

/** Where a task's workspace lives. */
export function workspacePathFor(home: string, tenantId: string, taskId: string): string {
  return path.join(home, 'workspaces', tenantId, taskId);
}

async function assertGitRepo(repoPath: string): Promise<void> {
  if (!existsSync(repoPath)) throw new TargetRepoError(`target repository '${repoPath}' does not exist`);
  try {
    await git(repoPath, ['rev-parse', '--git-dir']);
  } catch {
    throw new TargetRepoError(`'${repoPath}' is not a git repository`);
  }
}

/** Builds the `prepareWorkspace` activity. */
export function createWorkspaceActivities({ home }: ActivityDeps) {
  return {
    async prepareWorkspace(raw: PrepareWorkspaceInput): Promise<PreparedWorkspace> {
      const input = PrepareWorkspaceInput.parse(raw);
      await assertGitRepo(input.repoPath);
      const ref = input.baseRef ?? 'HEAD';
      const baseCommit = await resolveCommit(input.repoPath, ref);
      if (!baseCommit) throw new TargetRepoError(`'${ref}' does not name a commit in ${input.repoPath}`);
      const workspacePath = workspacePathFor(home, input.tenantId, input.taskId);
      await fs.rm(workspacePath, { recursive: true, force: true });
      await fs.mkdir(path.dirname(workspacePath), { recursive: true });
      // --no-hardlinks: the workspace must share no inode with the target's object store.
      await git(path.dirname(workspacePath), ['clone', '--quiet', '--no-hardlinks', '--no-checkout', input.repoPath, workspacePath]);
      if (!(await resolveCommit(workspacePath, baseCommit))) {
        await git(workspacePath, ['fetch', '--quiet', input.repoPath, baseCommit]);
      }
      await git(workspacePath, ['checkout', '--quiet', '--detach', baseCommit]);
      log.info('workspace prepared', { workspacePath, baseCommit });
      return { workspacePath, baseCommit };
    },
  };
}
