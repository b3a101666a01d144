/** Reads a workspace's change against its base commit, as git sees it (renames as delete+add). */
import { git } from './git';

/** Per-file line counts; binary files count as one changed line each. */
export interface FileChange {
  path: string;
  added: number;
  deleted: number;
}

/** Stages everything (including new and deleted files) so the diff is complete. */
export async function stageAll(workspace: string): Promise<void> {
  await git(workspace, ['add', '--all']);
}

/** Changed files with their line counts. */
export async function changedFiles(workspace: string, baseCommit: string): Promise<FileChange[]> {
  await stageAll(workspace);
  const out = await git(workspace, ['diff', '--cached', '--no-renames', '--numstat', '-z', baseCommit]);
  return out
    .split('\0')
    .filter(Boolean)
    .map((record) => {
      const [added, deleted, ...pathParts] = record.split('\t');
      const binary = added === '-' || deleted === '-';
      return { path: pathParts.join('\t'), added: binary ? 1 : Number(added), deleted: binary ? 0 : Number(deleted) };
    });
}

/** The full binary-safe patch. */
export async function patchText(workspace: string, baseCommit: string): Promise<string> {
  await stageAll(workspace);
  return git(workspace, ['diff', '--cached', '--no-renames', '--binary', baseCommit]);
}
