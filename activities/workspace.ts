/**
 * Task workspaces: a private copy of the target repository at its base commit, one per task,
 * on the worker that prepared it. The agent works in `tree/`; git's own data lives beside it in
 * `git/`, out of the agent's reach. The target checkout is only read. Preparing again (a retry,
 * a rebuild on another host) starts from scratch, so two attempts never mix.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { log } from '@temporalio/activity';
import { PrepareWorkspaceInput, ReleaseWorkspaceInput, type PreparedWorkspace } from '../domain/activity-io';
import { TargetRepoError } from '../domain/errors';
import type { ActivityDeps } from './deps';
import { git, resolveCommit, workspaceDirs, workspaceGit, type WorkspaceDirs } from './git';
import { parseActivityInput } from './input';
import { runningAsRoot, type SandboxConfig } from './sandbox/config';
import { retainWorkspace } from './workspace-retention';

/** Refuses a path that is not an existing git repository. */
export async function assertGitRepo(repoPath: string): Promise<void> {
  if (!existsSync(repoPath)) throw new TargetRepoError(`target repository '${repoPath}' does not exist`);
  try {
    await git(repoPath, ['rev-parse', '--git-dir']);
  } catch {
    throw new TargetRepoError(`'${repoPath}' is not a git repository`);
  }
}

/**
 * Puts the tree back to exactly `baseCommit`: tracked files restored, everything else removed.
 * When the worker is root the tree is handed to the sandbox user, the only one commands run as.
 */
export async function resetWorkspace(ws: WorkspaceDirs, baseCommit: string, sandbox: SandboxConfig): Promise<void> {
  await fs.rm(ws.tree, { recursive: true, force: true });
  await fs.mkdir(ws.tree, { recursive: true });
  await workspaceGit(ws, ['read-tree', '--reset', baseCommit]);
  await workspaceGit(ws, ['checkout-index', '--all', '--force']);
  if (runningAsRoot()) await chownTree(ws.tree, sandbox.uid, sandbox.gid);
}

/** Hands a directory tree to `uid:gid` without following symlinks. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid, gid);
    else await fs.lchown(full, uid, gid);
  }
}

/**
 * The sandbox user must be able to reach the tree: the folders Arbiter owns on the way are
 * made traversable (not listable) by others. Folders above ARBITER_HOME are the operator's.
 */
async function makeTraversable(home: string, root: string): Promise<void> {
  for (let dir = root; dir.startsWith(home); dir = path.dirname(dir)) {
    await fs.chmod(dir, 0o711);
    if (dir === home) break;
  }
}

/** Builds `prepareWorkspace` and `releaseWorkspace`. */
export function createWorkspaceActivities({ home, hostQueue, sandbox, retentionHours }: ActivityDeps) {
  return {
    async prepareWorkspace(raw: PrepareWorkspaceInput): Promise<PreparedWorkspace> {
      const input = parseActivityInput(PrepareWorkspaceInput, raw);
      await assertGitRepo(input.repoPath);
      const ref = input.baseRef ?? 'HEAD';
      const baseCommit = await resolveCommit(input.repoPath, ref);
      if (!baseCommit) throw new TargetRepoError(`'${ref}' does not name a commit in ${input.repoPath}`);
      const ws = workspaceDirs(home, input.tenantId, input.taskId);
      await fs.rm(ws.root, { recursive: true, force: true });
      await fs.mkdir(ws.root, { recursive: true });
      await makeTraversable(home, ws.root);
      // A bare clone (no hardlinks: no inode shared with the target's object store) as the git dir.
      await git(ws.root, ['clone', '--quiet', '--bare', '--no-hardlinks', input.repoPath, ws.gitDir]);
      if (!(await resolveCommit(ws.gitDir, baseCommit))) await git(ws.gitDir, ['fetch', '--quiet', input.repoPath, baseCommit]);
      await git(ws.gitDir, ['config', 'core.bare', 'false']);
      await resetWorkspace(ws, baseCommit, sandbox);
      log.info('workspace prepared', { workspacePath: ws.tree, baseCommit, hostQueue });
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
      await fs.rm(ws.root, { recursive: true, force: true });
      log.info('workspace released', { workspacePath: ws.tree });
    },
  };
}
