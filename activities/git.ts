/**
 * git as a subprocess with argv only. Hooks are always disabled: a workspace's `.git` may have
 * been touched by an agent, and nothing an agent wrote may ever execute on the worker host.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const SAFE_CONFIG = ['-c', 'core.hooksPath=/dev/null', '-c', 'user.name=Arbiter', '-c', 'user.email=arbiter@localhost'];

/** A git command that failed, with its stderr. */
export class GitCommandError extends Error {
  constructor(
    public readonly args: string[],
    public readonly stderr: string,
  ) {
    super(`git ${args.join(' ')} failed: ${stderr.trim()}`);
    this.name = 'GitCommandError';
  }
}

/** Runs `git -C dir …args` and returns stdout. */
export async function git(dir: string, args: string[], options: { maxBuffer?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync('git', [...SAFE_CONFIG, '-C', dir, ...args], {
      maxBuffer: options.maxBuffer ?? 64 * 1024 * 1024,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C' },
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new GitCommandError(args, e.stderr || e.message);
  }
}

/** The commit a ref names, or undefined when it does not exist. */
export async function resolveCommit(dir: string, ref: string): Promise<string | undefined> {
  try {
    return (await git(dir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim() || undefined;
  } catch {
    return undefined;
  }
}
