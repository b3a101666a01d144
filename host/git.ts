/**
 * git as a subprocess with argv only. Workspace repositories keep their git directory outside
 * the work tree and every call names it explicitly (`--git-dir`/`--work-tree`), so nothing an
 * agent writes in the tree — a `.git` file, hooks, config, fsmonitor, diff drivers — is ever
 * read or executed by git on the worker host.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { spawnViaHelper, SpawnedProgramError, type Overrun } from './native-spawner';
import { clipText } from '../domain/bounds';
import { RecordMismatchError } from '../domain/errors';

/** Settings that neutralise anything in a repository that could run a program. */
export const HARDENED_GIT_CONFIG = [
  ['core.hooksPath', '/dev/null'],
  // Refuse path names that some checkout (macOS, Windows) would read as `.git`.
  ['core.protectHFS', 'true'],
  ['core.protectNTFS', 'true'],
  ['core.fsmonitor', 'false'],
  ['core.sshCommand', 'false'],
  ['diff.external', ''],
  ['user.name', 'Arbiter'],
  ['user.email', 'arbiter@localhost'],
].flatMap(([k, v]) => ['-c', `${k}=${v}`]);

/** A git command that failed, with its stderr. */
export class GitCommandError extends Error {
  constructor(
    public readonly args: string[],
    public readonly stderr: string,
    /** git's exit code, when it ran at all. */
    public readonly exitCode?: number,
    /** Set when git was stopped for passing its output or time limit. */
    public readonly overran?: Overrun,
  ) {
    // Arguments and stderr can name every path an agent created: the message keeps their start.
    super(`git ${clipText(args.join(' '), 1000)} failed: ${clipText(stderr.trim(), 2000)}`);
    this.name = 'GitCommandError';
  }
}

/** The two halves of a task workspace: the agent's files and the git directory it never sees. */
export interface WorkspaceDirs {
  tree: string;
  gitDir: string;
}

/** Layout of a task workspace under `<home>/workspaces/<tenant>/<task>/`. */
export function workspaceDirs(home: string, tenantId: string, taskId: string): WorkspaceDirs & { root: string } {
  const root = path.join(home, 'workspaces', tenantId, taskId);
  return { root, tree: path.join(root, 'tree'), gitDir: path.join(root, 'git') };
}

/**
 * Refuses a workspace other than the task's own: a step's input names the path, and a run of
 * someone's own workflow code could point a task's gates, or its setup, at another task's tree.
 * The path must be the one `prepareWorkspace` returned, spelled exactly: `<tree>/sub/../../tree`
 * reads as the tree, but the system follows a link `sub` the agent left, out of it (found in review).
 */
export function requireTaskWorkspace(
  home: string,
  task: { tenantId: string; taskId: string; workspacePath: string },
): void {
  const own = workspaceDirs(home, task.tenantId, task.taskId).tree;
  if (task.workspacePath !== own)
    throw new RecordMismatchError('workspace', `'${task.workspacePath}' is not task ${task.taskId}'s (${own})`);
}

/** The git directory belonging to a workspace tree (a sibling, outside the tree). */
export function gitDirOf(tree: string): string {
  return path.join(path.dirname(tree), 'git');
}

/**
 * Attributes that turn off the conversions git would make at an agent's word between a
 * workspace's files and its objects, written where they outrank the tree's own `.gitattributes`
 * (the git directory's `info/attributes`). The agent writes the tree's, ignored ones included:
 * with them it could make staging fail (an encoding git cannot convert) or store other bytes
 * than it left and ran (`ident`, a filter). Line ends (`text`, `eol`) keep the repository's
 * rules: a repository kept CRLF in its work trees is checked out and staged as it always is.
 */
const NEUTRAL_ATTRIBUTES = '* -ident -filter -working-tree-encoding\n';

/** Writes {@link NEUTRAL_ATTRIBUTES} into a workspace's git directory unless they are there already. */
export async function neutraliseAttributes(gitDir: string): Promise<void> {
  const file = path.join(gitDir, 'info', 'attributes');
  if ((await fs.readFile(file, 'utf8').catch(() => '')) === NEUTRAL_ATTRIBUTES) return;
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, NEUTRAL_ATTRIBUTES);
}

/** Extra environment and stdin for one git call. */
export interface GitOptions {
  env?: Record<string, string>;
  input?: string | Buffer;
  /** git is killed past this; none for the operator's own repositories (a large clone takes long). */
  timeoutMs?: number;
}

/** The most a git call may print: a patch past it is more than Arbiter measures or delivers. */
export const GIT_MAX_OUTPUT = 256 * 1024 * 1024;

/**
 * The whole environment git runs with: no system or user configuration, messages in English (some
 * are read), and `SUDO_UID` when set, by which git run as root under sudo trusts the invoking
 * user's repositories (git reads it only as root).
 */
export function hardenedGitEnv(): Record<string, string> {
  const { PATH, SUDO_UID } = process.env;
  return {
    PATH: PATH ?? '/usr/bin:/bin',
    HOME: '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    LC_ALL: 'C',
    ...(SUDO_UID ? { SUDO_UID } : {}),
  };
}

async function run(args: string[], options: GitOptions): Promise<Buffer> {
  try {
    return await spawnViaHelper('git', [...HARDENED_GIT_CONFIG, ...args], {
      maxBuffer: GIT_MAX_OUTPUT,
      timeoutMs: options.timeoutMs,
      env: { ...hardenedGitEnv(), ...options.env },
      input: options.input,
    });
  } catch (err) {
    const e = err as Error;
    const stderr = e instanceof SpawnedProgramError ? e.stderr.toString('utf8') : '';
    const spawned = e instanceof SpawnedProgramError ? e : undefined;
    throw new GitCommandError(args, stderr || e.message, spawned?.code, spawned?.overran);
  }
}

/** `git -C dir …` for a repository the operator owns (the target); stdout as text. */
export async function git(dir: string, args: string[], options: GitOptions = {}): Promise<string> {
  return (await gitBytes(dir, args, options)).toString('utf8');
}

/** Like {@link git} but stdout as bytes (a file's exact content, for its digest). */
export function gitBytes(dir: string, args: string[], options: GitOptions = {}): Promise<Buffer> {
  return run(['-C', dir, ...args], options);
}

function workspaceArgs(ws: WorkspaceDirs, args: string[]): string[] {
  return [`--git-dir=${ws.gitDir}`, `--work-tree=${ws.tree}`, '-C', ws.tree, ...args];
}

/** git on a workspace, with its git directory named explicitly; stdout as text. */
export async function workspaceGit(
  ws: WorkspaceDirs,
  args: string[],
  options: Pick<GitOptions, 'input' | 'timeoutMs'> = {},
): Promise<string> {
  return (await run(workspaceArgs(ws, args), options)).toString('utf8');
}

function treeArgs(gitDir: string, args: string[]): string[] {
  // The git directory as the working directory: no work tree anyone else writes to takes part.
  return ['-C', gitDir, `--git-dir=${gitDir}`, '-c', 'core.attributesFile=/dev/null', ...args];
}

/**
 * git over objects alone, for measuring and reading a pinned tree: no work tree, an index that
 * does not exist (the workspace's index holds the agent's `.gitattributes`), no global or system
 * attributes — so nothing an agent wrote changes the result.
 */
export function objectGitBytes(
  gitDir: string,
  args: string[],
  options: Pick<GitOptions, 'input' | 'timeoutMs'> = {},
): Promise<Buffer> {
  return run(treeArgs(gitDir, args), {
    ...options,
    env: { GIT_ATTR_NOSYSTEM: '1', GIT_INDEX_FILE: path.join(gitDir, 'arbiter-no-index') },
  });
}

/** Like {@link objectGitBytes}, stdout as text. */
export async function objectGit(gitDir: string, args: string[]): Promise<string> {
  return (await objectGitBytes(gitDir, args)).toString('utf8');
}

/** The commit a ref names in `dir`, or undefined when it does not exist. */
export async function resolveCommit(dir: string, ref: string): Promise<string | undefined> {
  try {
    return (await git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** One object of a `cat-file --batch` answer: its id, type and content; undefined for a name that named none. */
export type BatchObject = { oid: string; type: string; content: Buffer } | undefined;

/**
 * Splits a `git cat-file --batch` answer to `count` names into their objects, in order: one git
 * call reads many objects.
 */
export function batchObjects(out: Buffer, count: number): BatchObject[] {
  const objects: BatchObject[] = [];
  for (let at = 0; objects.length < count;) {
    const eol = out.indexOf(0x0a, at);
    if (eol === -1) throw new Error(`cat-file --batch answered ${objects.length} of ${count} names`);
    const header = out.subarray(at, eol).toString('utf8');
    if (/ (missing|ambiguous)$/.test(header)) {
      objects.push(undefined);
      at = eol + 1;
      continue;
    }
    const [oid, type, size] = header.split(' ');
    objects.push({ oid, type, content: out.subarray(eol + 1, eol + 1 + Number(size)) });
    at = eol + 1 + Number(size) + 1;
  }
  return objects;
}
