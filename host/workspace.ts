/**
 * A task workspace on disk: checks on the target repository, resetting the work tree to a
 * commit, and the ownership and permissions that let the sandbox user (and no one else) work in it.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { TargetRepoError } from '../domain/errors';
import { git, workspaceGit, type WorkspaceDirs } from './git';
import { runningAsRoot, type SandboxConfig } from './sandbox/config';

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
export async function makeTraversable(home: string, root: string): Promise<void> {
  for (let dir = root; dir.startsWith(home); dir = path.dirname(dir)) {
    await fs.chmod(dir, 0o711);
    if (dir === home) break;
  }
}
