/**
 * A task workspace on disk: checks on the target repository, resetting the work tree to a
 * commit, and the ownership and permissions that let the sandbox user (and no one else) work in it.
 */
import { existsSync, realpathSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { TargetRepoError, WorkspaceBaseMismatchError } from '../domain/errors';
import {
  git,
  gitDirOf,
  GitCommandError,
  neutraliseAttributes,
  requireTaskWorkspace,
  workspaceDirs,
  workspaceGit,
  type WorkspaceDirs,
} from './git';
import { forgetFreshCheckout, markFreshCheckout } from './fresh-checkout';
import { removeTree } from './remove-tree';
import { runningAsRoot, type SandboxConfig } from './sandbox/config';
import { ATTEMPT_FILE } from './workspace-lock';
import { heldSandboxUser, LEASE_FILE, type SandboxUser, type SandboxUserOf } from './sandbox/uid-leases';

/** Refuses a target path that does not exist, before git is asked anything about it. */
export function assertExists(repoPath: string): void {
  if (!existsSync(repoPath)) throw new TargetRepoError(`target repository '${repoPath}' does not exist`);
}

/**
 * Refuses a path that is not a repository's own top: a folder inside one (git looks upward), a
 * linked worktree, or a folder whose `.git` names another repository. Each shares that one's refs,
 * so two tenants' registrations could deliver into one repository, and their task ids collide.
 */
export async function assertOwnRepository(repoPath: string): Promise<void> {
  assertExists(repoPath);
  const [bare, common] = (
    await git(repoPath, ['rev-parse', '--is-bare-repository', '--git-common-dir']).catch(() => {
      throw new TargetRepoError(`'${repoPath}' is not a git repository`);
    })
  )
    .trim()
    .split('\n');
  const top = realpathSync(repoPath);
  const own = bare === 'true' ? top : path.join(top, '.git');
  const real = realpathSync(path.resolve(repoPath, common));
  if (real !== own)
    throw new TargetRepoError(`'${repoPath}' is not a repository's own top: its git directory is ${real}`);
}

/** Where a workspace reads the target's objects from, and the commit its task starts at. */
export interface RepoBase {
  commit: string;
  /** The target's object directory, absolute: a workspace borrows it instead of copying it. */
  objectsDir: string;
  /** `sha1` or `sha256`: a workspace must hash as the store it borrows from. */
  objectFormat: string;
}

/**
 * The commit `ref` names in `repoPath` (undefined when it names none) and where its objects are,
 * refusing a path that is not an existing git repository — one git call for all three.
 */
export async function repoBase(repoPath: string, ref: string): Promise<RepoBase | undefined> {
  assertExists(repoPath);
  const args = ['rev-parse', '--path-format=absolute', '--git-path', 'objects', '--show-object-format'];
  try {
    const out = await git(repoPath, [...args, '--verify', '--quiet', `${ref}^{commit}`]);
    const [objectsDir, objectFormat, commit] = out.trim().split('\n');
    return commit && objectsDir && objectFormat ? { commit, objectsDir, objectFormat } : undefined;
  } catch (err) {
    if (err instanceof GitCommandError && err.exitCode === 1) return undefined;
    // git exits 128 for a ref it cannot resolve (`@{u}` without an upstream) as for a folder that is no repository.
    if (err instanceof GitCommandError && err.exitCode === 128 && !/not a git repository/.test(err.stderr))
      throw new TargetRepoError(`'${ref}' does not name a commit in ${repoPath}: ${err.stderr.trim().split('\n')[0]}`);
    throw new TargetRepoError(`'${repoPath}' is not a git repository`);
  }
}

/**
 * Makes `gitDir` an empty bare repository that reads the target's objects where they are (git's
 * alternates): a copy cost every task time and disk in proportion to the target's whole history.
 * New objects go to `gitDir` alone (one the target already holds is not written again: git only
 * refreshes its file's time there). So the target must keep the base while the task is open, as
 * delivery, which builds on the base inside the target, needs anyway.
 */
export async function borrowObjects(root: string, gitDir: string, base: RepoBase): Promise<void> {
  // One line per directory in that file: a path holding a line break would name a second one.
  if (/[\0-\x1f]/.test(base.objectsDir))
    throw new TargetRepoError(
      `the target's object directory path holds a control character: ${JSON.stringify(base.objectsDir)}`,
    );
  await git(root, ['init', '--quiet', '--bare', '--template=', `--object-format=${base.objectFormat}`, gitDir]);
  await fs.mkdir(path.join(gitDir, 'objects', 'info'), { recursive: true });
  await fs.writeFile(path.join(gitDir, 'objects', 'info', 'alternates'), `${base.objectsDir}\n`);
}

/**
 * Puts the tree back to exactly `baseCommit`: tracked files restored, everything else removed,
 * and the tree handed to the task's sandbox user, the only one its commands run as.
 */
export async function resetWorkspace(ws: WorkspaceDirs, baseCommit: string, user: SandboxUser): Promise<void> {
  await forgetFreshCheckout(ws.tree);
  await removeTree(ws.tree);
  await fs.mkdir(ws.tree, { recursive: true });
  await neutraliseAttributes(ws.gitDir);
  // One call fills the index and writes every file of it (the tree is empty, so every file is missing).
  await workspaceGit(ws, ['read-tree', '--reset', '-u', baseCommit]);
  await handToSandboxUser(ws.tree, user);
  // Handing the files over changed their owner and ctime: the index's stat data is refreshed now,
  // on the host's time, or the measurement's `git add` would hash the whole checkout again on the agent's.
  await workspaceGit(ws, ['update-index', '-q', '--refresh']);
  await markFreshCheckout(ws.tree, baseCommit);
}

/** Where a workspace's git directory names the commit it was built from. */
const BASE_FILE = 'arbiter-base';

/**
 * Records the commit the workspace was built from, in its git directory, where no command of the
 * task's reaches: the policy's setup runs only there, never at a commit a step's input names.
 */
export async function recordWorkspaceBase(gitDir: string, commit: string): Promise<void> {
  await fs.writeFile(path.join(gitDir, BASE_FILE), `${commit}\n`);
}

/** The commit {@link recordWorkspaceBase} recorded; undefined for a workspace built before it did. */
export async function workspaceBase(gitDir: string): Promise<string | undefined> {
  const text = await fs.readFile(path.join(gitDir, BASE_FILE), 'utf8').catch(() => undefined);
  return text?.trim();
}

/**
 * Refuses a workspace other than the task's own ({@link requireTaskWorkspace}), and a `baseCommit`
 * other than the one it was built from. A workspace that records none (built by a release before
 * it did) is refused too, or the check would hold only where the file is.
 */
export async function requireTaskWorkspaceAt(
  home: string,
  task: { tenantId: string; taskId: string; workspacePath: string; baseCommit: string },
): Promise<void> {
  requireTaskWorkspace(home, task);
  const { baseCommit } = task;
  const built = await workspaceBase(gitDirOf(task.workspacePath));
  if (built === undefined)
    throw new WorkspaceBaseMismatchError(
      'the workspace records no commit it was built from (an older release built it); submit the task again to build a new one',
    );
  if (built !== baseCommit)
    throw new WorkspaceBaseMismatchError(`the workspace was built from ${built}, not from ${baseCommit}`);
}

/** The files a workspace's checkout holds: the count in its index's header, read without parsing the rest. */
export async function checkoutFileCount(gitDir: string): Promise<number> {
  const index = await fs.open(path.join(gitDir, 'index'));
  try {
    const header = Buffer.alloc(12);
    await index.read(header, 0, 12, 0);
    return header.readUInt32BE(8);
  } finally {
    await index.close();
  }
}

/**
 * Empties a workspace root but for the mark of the attempt doing it and the files in `keep`: for a
 * fresh start the uid lease (the task keeps its uid across retries), for a release the retention
 * marker. An unkept lease goes last, so the uid is not free while files it owns remain.
 */
export async function emptyWorkspaceRoot(root: string, keep: string[]): Promise<void> {
  const names = (await fs.readdir(root)).filter((name) => name !== ATTEMPT_FILE && !keep.includes(name));
  const leaseLast = [...names.filter((name) => name !== LEASE_FILE), ...names.filter((name) => name === LEASE_FILE)];
  for (const name of leaseLast) await removeTree(path.join(root, name));
}

/**
 * Gives a directory tree to the task's sandbox user, mode 0700 at its top: its commands can write it and
 * other tasks' uids cannot even look in. (Not root: the worker's own user runs commands and owns it already.)
 */
export async function handToSandboxUser(dir: string, user: SandboxUser): Promise<void> {
  if (runningAsRoot()) await chownTree(dir, user.uid, user.gid);
  await fs.chmod(dir, 0o700);
}

/** Hands a directory tree to `uid:gid` without following symlinks. */
async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fs.lchown(dir, uid, gid);
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(full, uid, gid);
    else await fs.lchown(full, uid, gid);
  }
}

/** {@link SandboxUserOf} for the workspaces under `home`: the uid the task's workspace on this worker holds. */
export function taskSandboxUser(home: string, sandbox: SandboxConfig): SandboxUserOf {
  return (task) => heldSandboxUser(home, workspaceDirs(home, task.tenantId, task.taskId).root, sandbox.uids);
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
