/**
 * A fresh directory holding exactly one git tree, written from its objects: blobs byte for byte
 * with their modes, symlinks as symlinks, nothing else. No git checkout machinery runs, so no
 * attribute (eol, ident, smudge, working-tree-encoding, export-ignore) in the tree can make the
 * files on disk differ from the objects that were measured and will be delivered.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { batchObjects, objectGitBytes } from './git';
import type { TreeEntry } from './diff';

/** Reads blobs in one `git cat-file --batch` call; returns their contents by object id. */
export async function readBlobs(gitDir: string, oids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const out = await objectGitBytes(gitDir, ['cat-file', '--batch'], { input: `${unique.join('\n')}\n` });
  batchObjects(out, unique.length).forEach((object, i) => {
    const oid = unique[i];
    if (object?.oid !== oid || object.type !== 'blob')
      throw new Error(`cat-file returned '${object ? `${object.oid} ${object.type}` : 'missing'}' for blob ${oid}`);
    blobs.set(oid, object.content);
  });
  return blobs;
}

function inside(dest: string, relative: string): string {
  const full = path.resolve(dest, relative);
  if (!full.startsWith(`${dest}${path.sep}`)) throw new Error(`tree path '${relative}' leaves the checkout`);
  return full;
}

/**
 * Writes `entries` (of one tree) under `dest`, which must not exist. Regular files first, then
 * symlinks, each created exclusively, so no write ever goes through a link. Gitlinks are left
 * out: a tree that has one fails the `tree` gate.
 */
export async function checkoutTree(gitDir: string, entries: TreeEntry[], dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: false });
  // A name that is not valid UTF-8 cannot be written exactly; the `tree` gate refuses such a change.
  const files = entries.filter((e) => e.type === 'blob' && e.validName);
  const blobs = await readBlobs(
    gitDir,
    files.map((e) => e.oid),
  );
  for (const entry of files.filter((e) => e.mode !== '120000')) {
    const file = inside(dest, entry.path);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, blobs.get(entry.oid) as Buffer, {
      flag: 'wx',
      mode: entry.mode === '100755' ? 0o755 : 0o644,
    });
  }
  for (const entry of files.filter((e) => e.mode === '120000')) {
    const link = inside(dest, entry.path);
    await fs.mkdir(path.dirname(link), { recursive: true });
    await fs.symlink(blobs.get(entry.oid) as Buffer, link);
  }
}
