/**
 * Reads a workspace's change as git sees it: everything in the tree is staged and written as a
 * tree object, and the change is that tree against the base commit. The tree id pins exactly
 * what was measured, so later steps check and deliver the same bytes.
 */
import { workspaceGit, workspaceGitBytes, type WorkspaceDirs } from './git';

/** Per-file line counts; binary files count as one changed line each. */
export interface FileChange {
  path: string;
  added: number;
  deleted: number;
}

const DIFF_FLAGS = ['--no-ext-diff', '--no-textconv', '--no-renames'];

/** Stages the whole tree (new, changed and deleted files) and returns its tree id. */
export async function snapshotTree(ws: WorkspaceDirs): Promise<string> {
  await workspaceGit(ws, ['add', '--all']);
  return (await workspaceGit(ws, ['write-tree'])).trim();
}

/** Changed files between `baseCommit` and `treeId` with their line counts. */
export async function changedFiles(ws: WorkspaceDirs, baseCommit: string, treeId: string): Promise<FileChange[]> {
  const out = await workspaceGit(ws, ['diff', ...DIFF_FLAGS, '--numstat', '-z', baseCommit, treeId]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const [added, deleted, ...pathParts] = record.split('\t');
      const binary = added === '-' || deleted === '-';
      return { path: pathParts.join('\t'), added: binary ? 1 : Number(added), deleted: binary ? 0 : Number(deleted) };
    });
}

/** The full binary-safe patch from `baseCommit` to `treeId`, as bytes, applicable with `git apply`. */
export function patchBytes(ws: WorkspaceDirs, baseCommit: string, treeId: string): Promise<Buffer> {
  return workspaceGitBytes(ws, ['diff', ...DIFF_FLAGS, '--binary', '--full-index', baseCommit, treeId]);
}
