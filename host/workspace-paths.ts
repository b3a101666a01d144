/**
 * Resolves an agent-supplied relative path inside a workspace, refusing anything that could
 * land outside it: absolute paths, `..`, NUL bytes, the `.git` directory, and symlinks
 * anywhere on the way (checked on real paths, not strings).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PathEscapeError } from '../domain/errors';

async function realpathOfNearestExisting(p: string, relative: string): Promise<{ real: string; rest: string[] }> {
  const rest: string[] = [];
  let current = p;
  for (;;) {
    try {
      return { real: await fs.realpath(current), rest };
    } catch {
      // Something is there yet has no real path: a dangling or looping symlink.
      if (
        await fs.lstat(current).then(
          () => true,
          () => false,
        )
      )
        throw new PathEscapeError(relative, 'passes through a symlink');
      rest.unshift(path.basename(current));
      const parent = path.dirname(current);
      if (parent === current) throw new PathEscapeError(p, 'no existing ancestor');
      current = parent;
    }
  }
}

/**
 * The absolute path `relative` names inside `workspace`, or a PathEscapeError saying why not.
 * `kind: 'dir'` accepts an existing directory (or the workspace itself, as `.`) instead of a file.
 */
export async function resolveInWorkspace(
  workspace: string,
  relative: string,
  options: { kind?: 'file' | 'dir' } = {},
): Promise<string> {
  const kind = options.kind ?? 'file';
  if (relative.includes('\0')) throw new PathEscapeError(relative, 'contains a NUL byte');
  if (path.isAbsolute(relative)) throw new PathEscapeError(relative, 'absolute paths are not allowed');
  const segments = relative.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new PathEscapeError(relative, "'..' is not allowed");
  if (segments.length === 0 && kind === 'file') throw new PathEscapeError(relative, 'names the workspace itself');
  if (segments[0] === '.git') throw new PathEscapeError(relative, '.git is protected');
  const root = await fs.realpath(workspace);
  const target = path.join(root, ...segments);
  const { real, rest } = await realpathOfNearestExisting(target, relative);
  const resolved = path.join(real, ...rest);
  if (resolved !== target) throw new PathEscapeError(relative, 'passes through a symlink');
  const stat = await fs.lstat(target).catch(() => undefined);
  if (kind === 'dir') {
    if (!stat?.isDirectory()) throw new PathEscapeError(relative, 'is not a directory');
    return target;
  }
  if (stat && !stat.isFile()) throw new PathEscapeError(relative, 'is not a regular file');
  if (stat && stat.nlink > 1) throw new PathEscapeError(relative, 'is hardlinked elsewhere');
  return target;
}
