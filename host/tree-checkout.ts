/**
 * A fresh directory holding exactly one git tree, written from its objects: blobs byte for byte
 * with their modes, symlinks as symlinks, nothing else. No git checkout machinery runs, so no
 * attribute (eol, ident, smudge, working-tree-encoding, export-ignore) in the tree can make the
 * files on disk differ from the objects that were measured and will be delivered. Blobs are read
 * a batch of bounded size at a time, and one larger than a batch is written to disk by git, so
 * neither the worker's memory nor git's output grows with the tree: read in one call, a tree
 * holding an agent's compressible file of 255 MiB passed the most git may print, and each gate
 * failed as the host's, retried until the task failed with no FAIL counted against the agent.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { batchObjects, objectGitBytes } from './git';
import type { TreeEntry } from './diff';

/** The most one `git cat-file --batch` call prints: what the worker holds of a checkout at once. */
const BATCH_BYTES = 32 * 2 ** 20;

/** More than a `--batch` answer adds to an object's content: its header line (id, type, size) and a newline. */
const PER_OBJECT_BYTES = 100;

/** A blob to read: its id and size. */
type SizedBlob = Pick<TreeEntry, 'oid' | 'size'>;

/** The ids of `blobs`, each once, in groups whose `--batch` answer stays within {@link BATCH_BYTES} (a larger blob alone). */
function batches(blobs: readonly SizedBlob[]): string[][] {
  const groups: string[][] = [];
  let bytes = BATCH_BYTES;
  for (const [oid, size] of new Map(blobs.map((b) => [b.oid, b.size ?? 0]))) {
    if (bytes + size + PER_OBJECT_BYTES > BATCH_BYTES) {
      groups.push([]);
      bytes = 0;
    }
    groups[groups.length - 1].push(oid);
    bytes += size + PER_OBJECT_BYTES;
  }
  return groups;
}

/** Reads blobs in one `git cat-file --batch` call; returns their contents by object id. */
async function readBatch(gitDir: string, oids: string[]): Promise<Map<string, Buffer>> {
  const blobs = new Map<string, Buffer>();
  const out = await objectGitBytes(gitDir, ['cat-file', '--batch'], { input: `${oids.join('\n')}\n` });
  batchObjects(out, oids.length).forEach((object, i) => {
    const oid = oids[i];
    if (object?.oid !== oid || object.type !== 'blob')
      throw new Error(`cat-file returned '${object ? `${object.oid} ${object.type}` : 'missing'}' for blob ${oid}`);
    blobs.set(oid, object.content);
  });
  return blobs;
}

/** Reads small blobs (symlinks' targets), a batch of bounded size per git call; their contents by object id. */
export async function readBlobs(gitDir: string, blobs: readonly SizedBlob[]): Promise<Map<string, Buffer>> {
  const contents = new Map<string, Buffer>();
  for (const oids of batches(blobs))
    for (const [oid, content] of await readBatch(gitDir, oids)) contents.set(oid, content);
  return contents;
}

/** Where `entry` goes under `dest`, its folder made; refused when its path leaves `dest`. */
async function placeOf(dest: string, entry: TreeEntry): Promise<string> {
  const full = path.resolve(dest, entry.path);
  if (!full.startsWith(`${dest}${path.sep}`)) throw new Error(`tree path '${entry.path}' leaves the checkout`);
  await fs.mkdir(path.dirname(full), { recursive: true });
  return full;
}

function fileMode(entry: TreeEntry): number {
  return entry.mode === '100755' ? 0o755 : 0o644;
}

/** Writes `files` (regular, each blob within a batch), one batch of blobs read at a time. */
async function writeBatched(gitDir: string, files: TreeEntry[], dest: string): Promise<void> {
  const byBlob = new Map<string, TreeEntry[]>();
  for (const entry of files) byBlob.set(entry.oid, [...(byBlob.get(entry.oid) ?? []), entry]);
  for (const oids of batches(files)) {
    const blobs = await readBatch(gitDir, oids);
    for (const oid of oids)
      for (const entry of byBlob.get(oid) ?? [])
        await fs.writeFile(await placeOf(dest, entry), blobs.get(oid) as Buffer, { flag: 'wx', mode: fileMode(entry) });
  }
}

/**
 * Writes a regular file whose blob is larger than a batch without the worker holding it: git
 * writes the blob's bytes as stored (`unpack-file`, which applies no attribute or filter) to a new
 * temporary file beside its place, then moved there (a tree names each path once).
 */
async function unpackLarge(gitDir: string, entry: TreeEntry, dest: string): Promise<void> {
  const file = await placeOf(dest, entry);
  const dir = path.dirname(file);
  const out = await objectGitBytes(path.resolve(gitDir), ['-C', dir, 'unpack-file', entry.oid]);
  const temp = out.toString('utf8').trim();
  if (!/^\.merge_file_\w+$/.test(temp)) throw new Error(`unpack-file answered '${temp}' for blob ${entry.oid}`);
  await fs.chmod(path.join(dir, temp), fileMode(entry));
  await fs.rename(path.join(dir, temp), file);
}

/**
 * Writes `entries` (of one tree) under `dest`, which must not exist. Regular files first, then
 * symlinks, each made new, so no write ever goes through a link. Gitlinks are left out: a tree
 * that has one fails the `tree` gate.
 */
export async function checkoutTree(gitDir: string, entries: TreeEntry[], dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: false });
  // A name that is not valid UTF-8 cannot be written exactly; the `tree` gate refuses such a change.
  const files = entries.filter((e) => e.type === 'blob' && e.validName);
  const regular = files.filter((e) => e.mode !== '120000');
  const large = (e: TreeEntry) => (e.size ?? 0) > BATCH_BYTES;
  await writeBatched(
    gitDir,
    regular.filter((e) => !large(e)),
    dest,
  );
  for (const entry of regular.filter(large)) await unpackLarge(gitDir, entry, dest);
  const links = files.filter((e) => e.mode === '120000');
  const targets = await readBlobs(gitDir, links);
  for (const entry of links) await fs.symlink(targets.get(entry.oid) as Buffer, await placeOf(dest, entry));
}
