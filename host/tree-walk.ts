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

/**
 * Nested repositories the walk names at most: each is one argument of git's command line, and
 * 120,000 of them passed what Linux takes (E2BIG), a failure retried as the host's. The `tree`
 * gate refuses a change holding any.
 */
const MAX_NESTED_REPOSITORIES = 1_000;
const SLASH = Buffer.from('/');
const DOT_GIT = Buffer.from('.git');

/** Refuses `relative` (a path the agent left) for `reason`. */
function refuse(relative: string, reason: string): never {
  throw new PolicyViolationError({ op: 'measure', path: relative, reason });
}

/**
 * A nested repository's folder as a pathspec can name it: refused when its name is not UTF-8 (no
 * pathspec can keep git out of it) or holds a control character (git lists an ignored one raw, and
 * a line of its name could read as an error of git's).
 */
function nameable(folder: Buffer): string {
  const text = folder.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(folder))
    refuse(text, 'a nested repository in a folder whose name is not UTF-8: no pathspec can keep git out of it');
  if (/[\x00-\x1f\x7f]/.test(text))
    refuse(text, 'a nested repository in a folder whose name holds a control character');
  return text;
}

/**
 * Folders below the work tree's root that hold a `.git` of their own (file or folder), in any
 * case: git is kept out of them. A `.git` at the root is never read (every git call names its git
 * directory). Folders are read a few entries at a time, so one of millions costs no more memory
 * than it takes to refuse it. Names are read as bytes: read as text, a name that is not UTF-8
 * reads as another (U+FFFD), which the agent can create too, and the walk would list that one
 * twice and never enter the real one. A nested repository under such a name is refused, since
 * no pathspec can name it to keep git out; other such names are the `tree` gate's to refuse.
 * Refuses what {@link refuse}s above name.
 */
export async function nestedRepositories(tree: string, limits: { maxEntries: number }): Promise<string[]> {
  const longest = longestRelativePath(tree);
  const root = Buffer.from(tree);
  const found = new Set<string>();
  let entries = 0;
  const walk = async (below: Buffer): Promise<void> => {
    const dir = below.length ? Buffer.concat([root, SLASH, below]) : root;
    for await (const entry of await fs.opendir(dir, { encoding: 'buffer' as BufferEncoding })) {
      const name = entry.name as unknown as Buffer;
      const relative = below.length ? Buffer.concat([below, SLASH, name]) : name;
      const shown = relative.toString('utf8');
      if (++entries > limits.maxEntries)
        refuse(
          below.toString('utf8') || '.',
          `more than ${limits.maxEntries} files, folders and links in the work tree`,
        );
      if (relative.length > longest)
        refuse(shown, `a path of ${relative.length} bytes, past what the host can hold (${longest} here)`);
      if (entry.isFIFO()) refuse(shown, 'a named pipe in the change would block whatever reads it');
      const isGit = name.length === 4 && name.toString('latin1').toLowerCase() === '.git';
      if (isGit && !below.length && !name.equals(DOT_GIT)) refuse(shown, "git's own folder name, spelled otherwise");
      if (isGit) {
        if (below.length) found.add(nameable(below));
        if (found.size > MAX_NESTED_REPOSITORIES)
          refuse(shown, `more than ${MAX_NESTED_REPOSITORIES} nested repositories in the work tree`);
      } else if (entry.isDirectory()) await walk(relative);
    }
  };
  await walk(Buffer.alloc(0));
  return [...found];
}
