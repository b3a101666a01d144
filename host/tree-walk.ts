/**
 * The walk over an agent's work tree before git reads it. git would open whatever the agent left
 * there, so the walk, not git, finds what must not reach git: folders holding a `.git` of their own
 * (a `.git` file may name any repository on the host: git would open it to make a gitlink), and
 * what would stop git or a gate: a named pipe blocks whoever opens it (git opens every
 * `.gitignore` it meets) until someone writes to it, that is forever; a path too long for the
 * host cannot be read, nor written again into a gate's checkout; a top-level `.git` spelled
 * otherwise is git's own name to git, which refuses it; more entries than the workspace may hold
 * (left while no command's quota watched, or made faster than it looked) would hold the worker's
 * thread and each gate's checkout. Each of these is the agent's doing.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PolicyViolationError } from '../domain/errors';
import { MAX_GATE_NAME_LENGTH } from '../domain/gate-names';

/** Linux's PATH_MAX, less its terminating NUL: the longest path a system call takes. */
const MAX_PATH_BYTES = 4095;

/** Where each gate's fresh checkout of the measured tree is written (beside the work tree). */
export function gateCheckoutDir(workspacePath: string, gateName: string): string {
  return path.join(path.dirname(workspacePath), 'gates', gateName);
}

/** The longest path, relative to the work tree, that a gate's checkout of it can still hold. */
function longestRelativePath(tree: string): number {
  const longestCheckout = gateCheckoutDir(tree, 'g'.repeat(MAX_GATE_NAME_LENGTH));
  return MAX_PATH_BYTES - Buffer.byteLength(longestCheckout) - 1;
}

/** Refuses `relative` (a path the agent left) for `reason`. */
function refuse(relative: string, reason: string): never {
  throw new PolicyViolationError({ op: 'measure', path: relative, reason });
}

/**
 * Folders below the work tree's root that hold a `.git` of their own (file or folder), in any
 * case: git is kept out of them. A `.git` at the root is never read (every git call names its git
 * directory). Folders are read a few entries at a time, so one of millions costs no more memory
 * than it takes to refuse it. Refuses what {@link refuse}s above name.
 */
export async function nestedRepositories(tree: string, limits: { maxEntries: number }): Promise<string[]> {
  const longest = longestRelativePath(tree);
  const found = new Set<string>();
  let entries = 0;
  const walk = async (below: string): Promise<void> => {
    for await (const entry of await fs.opendir(path.join(tree, below))) {
      const relative = below ? `${below}/${entry.name}` : entry.name;
      if (++entries > limits.maxEntries)
        refuse(below || '.', `more than ${limits.maxEntries} files, folders and links in the work tree`);
      const bytes = Buffer.byteLength(relative);
      if (bytes > longest) refuse(relative, `a path of ${bytes} bytes, past what the host can hold (${longest} here)`);
      if (entry.isFIFO()) refuse(relative, 'a named pipe in the change would block whatever reads it');
      const isGit = entry.name.toLowerCase() === '.git';
      if (isGit && !below && entry.name !== '.git') refuse(relative, "git's own folder name, spelled otherwise");
      if (isGit) {
        if (below) found.add(below);
      } else if (entry.isDirectory()) await walk(relative);
    }
  };
  await walk('');
  return [...found];
}
