/**
 * Reads a workspace's change as git objects. Everything in the work tree that git does not
 * ignore is staged and written as a tree object; from then on only objects are read — the
 * change is that tree against the base commit, measured with no attributes, filters or config
 * from the workspace, so what is measured, gated and delivered is one thing the agent cannot
 * describe differently to each.
 */
import { objectGit, objectGitBytes, workspaceGit, type WorkspaceDirs } from './git';

/** One changed path, every file counted as text, with whether git's content check calls it binary. */
export interface FileChange {
  path: string;
  added: number;
  deleted: number;
  /** Bytes of the lines the change adds to this file. */
  bytesAdded: number;
  binary: boolean;
}

/** One entry of a tree: `100644`/`100755` files, `120000` symlinks, `160000` gitlinks. */
export interface TreeEntry {
  mode: string;
  type: 'blob' | 'commit' | 'tree';
  oid: string;
  path: string;
}

const DIFF_FLAGS = ['--no-ext-diff', '--no-textconv', '--no-renames', '-r'];

/** Stages the whole tree (new, changed and deleted files) and returns its tree id. */
export async function snapshotTree(ws: WorkspaceDirs): Promise<string> {
  await workspaceGit(ws, ['add', '--all']);
  return (await workspaceGit(ws, ['write-tree'])).trim();
}

/** Paths git ignores in the workspace, so they are in no tree: listed as evidence, never gated or delivered. */
export async function ignoredPaths(ws: WorkspaceDirs): Promise<string[]> {
  const out = await workspaceGit(ws, ['ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '-z']);
  return out.split('\0').filter(Boolean);
}

/** Changed paths with git's binary verdict (no attributes: only content can make a file binary). */
async function changedPaths(gitDir: string, baseCommit: string, treeId: string): Promise<Array<{ path: string; binary: boolean }>> {
  const out = await objectGit(gitDir, ['diff-tree', ...DIFF_FLAGS, '--numstat', '-z', baseCommit, treeId]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const [added, , ...pathParts] = record.split('\t');
      return { path: pathParts.join('\t'), binary: added === '-' };
    });
}

/** Added and deleted lines and added bytes of each file section of a `-a -U0` patch, in order. */
function countPatch(patch: Buffer): Array<{ added: number; deleted: number; bytesAdded: number }> {
  const sections: Array<{ added: number; deleted: number; bytesAdded: number }> = [];
  let inHunks = false;
  // latin1 maps each byte to one character, so lengths are byte counts.
  for (const line of patch.toString('latin1').split('\n')) {
    if (line.startsWith('diff --git ')) {
      sections.push({ added: 0, deleted: 0, bytesAdded: 0 });
      inHunks = false;
    } else if (line.startsWith('@@')) inHunks = true;
    else if (inHunks && line.startsWith('+')) {
      const s = sections[sections.length - 1];
      s.added += 1;
      s.bytesAdded += line.length; // the '+' stands in for the line's newline
    } else if (inHunks && line.startsWith('-')) sections[sections.length - 1].deleted += 1;
  }
  return sections;
}

/**
 * Every changed file between `baseCommit` and `treeId`, read from objects alone. Lines come from
 * a patch that treats every file as text, so neither an attribute nor a NUL byte hides them.
 */
export async function changedFiles(gitDir: string, baseCommit: string, treeId: string): Promise<FileChange[]> {
  const paths = await changedPaths(gitDir, baseCommit, treeId);
  const counts = countPatch(await objectGitBytes(gitDir, ['diff-tree', ...DIFF_FLAGS, '-p', '-a', '-U0', '--full-index', baseCommit, treeId]));
  if (counts.length !== paths.length) throw new Error(`diff of ${treeId} listed ${paths.length} files but its patch has ${counts.length}`);
  return paths.map((p, i) => ({ ...p, ...counts[i] }));
}

/** The full binary-safe patch from `baseCommit` to `treeId`, as bytes, applicable with `git apply`. */
export function patchBytes(gitDir: string, baseCommit: string, treeId: string): Promise<Buffer> {
  return objectGitBytes(gitDir, ['diff-tree', ...DIFF_FLAGS, '-p', '--binary', '--full-index', baseCommit, treeId]);
}

/** Every entry of `treeId`, recursively. */
export async function treeEntries(gitDir: string, treeId: string): Promise<TreeEntry[]> {
  const out = await objectGit(gitDir, ['ls-tree', '-r', '-z', '--full-tree', treeId]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const tab = record.indexOf('\t');
      const [mode, type, oid] = record.slice(0, tab).split(' ');
      return { mode, type: type as TreeEntry['type'], oid, path: record.slice(tab + 1) };
    });
}
