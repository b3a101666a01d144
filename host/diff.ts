/**
 * Reads a workspace's change as git objects. Everything in the work tree that git does not
 * ignore is staged and written as a tree object; from then on only objects are read — the
 * change is that tree against the base commit, measured with no attributes, filters or config
 * from the workspace, so what is measured, gated and delivered is one thing the agent cannot
 * describe differently to each.
 */
import { PolicyViolationError } from '../domain/errors';
import { GitCommandError, neutraliseAttributes, objectGitBytes, workspaceGit, type WorkspaceDirs } from './git';
import { ObjectCache } from './object-cache';

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
  /** False when the name is not valid UTF-8: `path` then only approximates it, and the entry is refused. */
  validName: boolean;
  /** A blob's bytes (none for a gitlink): a checkout reads blobs in batches of bounded size by it. */
  size?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a git path exactly, or says it cannot be: a lossy name would let gates read one file and delivery another. */
export function decodePath(bytes: Buffer): { path: string; valid: boolean } {
  try {
    return { path: strictUtf8.decode(bytes), valid: true };
  } catch {
    return { path: bytes.toString('utf8'), valid: false };
  }
}

/** Splits `-z` output into its NUL-terminated records, as bytes. */
function records(out: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  for (let at = 0; at < out.length;) {
    const end = out.indexOf(0, at);
    const stop = end === -1 ? out.length : end;
    parts.push(out.subarray(at, stop));
    at = stop + 1;
  }
  return parts;
}

const DIFF_FLAGS = ['--no-ext-diff', '--no-textconv', '--no-renames', '-r'];

/**
 * How long git may work, all calls together, on one measurement of what the agent left: a
 * `.gitignore` of a million patterns over a million files would keep `git add` going for hours,
 * holding the index lock every retry then fails on. Inside `measureDiff`'s five minutes, so git
 * is stopped, and the agent blamed, before the step times out and is retried as the host's.
 */
export const MEASURE_TIMEOUT_MS = 4 * 60_000;

/** When a measurement starting now must end. */
export function measureDeadline(): number {
  return Date.now() + MEASURE_TIMEOUT_MS;
}

/** A git call's share of the measurement: what is left until `deadline`. */
function until(deadline: number): { timeoutMs: number } {
  return { timeoutMs: Math.max(1, deadline - Date.now()) };
}

/** Pathspecs that keep git out of `folders` (and so out of any repository inside them). */
function excluding(folders: readonly string[]): string[] {
  return folders.length ? ['--', '.', ...folders.map((f) => `:(exclude,literal)${f}`)] : [];
}

/**
 * Stages the whole tree (new, changed and deleted files) except `skip`, and returns its tree id. A
 * name git refuses to stage (one some checkout would read as `.git`: `.git.`, `git~1`) is the
 * agent's doing, refused naming it, not a failure of the host's to retry.
 */
export async function snapshotTree(
  ws: WorkspaceDirs,
  skip: readonly string[] = [],
  deadline = measureDeadline(),
): Promise<string> {
  await neutraliseAttributes(ws.gitDir);
  await workspaceGit(ws, ['add', '--all', ...excluding(skip)], until(deadline)).catch((err: unknown) => {
    if (onlyIgnoredSkipped(err)) return;
    // The name may hold newlines: it ends where git's next line begins.
    const refused =
      err instanceof GitCommandError
        ? /(?:^|\n)error: invalid path '([\s\S]*?)'\n(?:error|fatal): /.exec(err.stderr)
        : null;
    if (!refused) throw err;
    throw new PolicyViolationError({
      op: 'measure',
      path: refused[1],
      reason: 'a name git refuses to stage: some checkout (Windows, macOS) would read it as .git',
    });
  });
  return (await workspaceGit(ws, ['write-tree'], until(deadline))).trim();
}

/**
 * Whether `git add` failed only because a folder it was told to leave out is ignored anyway: it
 * names such a pathspec as an ignored path "asked for", stages everything else, writes the index
 * and exits 1. Retried as the host's failure, every later attempt found the same.
 */
function onlyIgnoredSkipped(err: unknown): boolean {
  return (
    err instanceof GitCommandError &&
    err.exitCode === 1 &&
    err.stderr.startsWith('The following paths are ignored by one of your .gitignore files:\n') &&
    !/^(?:error|fatal|warning): /m.test(err.stderr)
  );
}

/** Paths git ignores in the workspace, so they are in no tree: listed as evidence, never gated or delivered. */
export async function ignoredPaths(
  ws: WorkspaceDirs,
  skip: readonly string[] = [],
  deadline = measureDeadline(),
): Promise<string[]> {
  const out = await workspaceGit(
    ws,
    ['ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '-z', ...excluding(skip)],
    until(deadline),
  );
  return out.split('\0').filter(Boolean);
}

/** Which of `paths` the workspace's ignore rules cover, asked without reading anything but those rules. */
export async function ignoredAmong(
  ws: WorkspaceDirs,
  paths: readonly string[],
  deadline = measureDeadline(),
): Promise<Set<string>> {
  if (paths.length === 0) return new Set();
  const input = `${paths.join('\0')}\0`;
  const out = await workspaceGit(ws, ['check-ignore', '--no-index', '-z', '--stdin'], {
    ...until(deadline),
    input,
  }).catch((err: unknown) => {
    // It exits 1 when none is ignored; running out of time is not an answer.
    if (err instanceof GitCommandError && err.overran) throw err;
    return '';
  });
  return new Set(out.split('\0').filter(Boolean));
}

/** One changed path of a `--raw --numstat` listing, with how many patch sections it makes (two for a type change). */
interface ChangedPath {
  path: string;
  binary: boolean;
  sections: number;
}

/** The path of a `-z` numstat record (`added<TAB>deleted<TAB>path`), as bytes. */
function numstatName(record: Buffer): Buffer {
  return record.subarray(record.indexOf(0x09, record.indexOf(0x09) + 1) + 1);
}

/**
 * Changed paths in diff order from one `--raw --numstat -z` listing (raw records first, each a
 * `:`-status and a path, then one numstat record per path), with git's binary verdict (no
 * attributes: only content makes a file binary) and whether the change is a type change.
 */
async function changedPaths(
  gitDir: string,
  baseCommit: string,
  treeId: string,
  deadline: number,
): Promise<ChangedPath[]> {
  const out = records(
    await objectGitBytes(
      gitDir,
      ['diff-tree', ...DIFF_FLAGS, '--raw', '--numstat', '-z', baseCommit, treeId],
      until(deadline),
    ),
  ).filter((r) => r.length > 0);
  const raw: Array<{ status: string; name: Buffer }> = [];
  let at = 0;
  for (; at + 1 < out.length && out[at][0] === 0x3a; at += 2)
    raw.push({ status: out[at].toString('latin1').split(' ').pop() as string, name: out[at + 1] });
  const numstat = out.slice(at);
  if (numstat.length !== raw.length || raw.some((r, i) => !numstatName(numstat[i]).equals(r.name)))
    throw new Error(`diff of ${treeId} lists its paths differently in --raw and --numstat`);
  return raw.map((r, i) => ({
    path: decodePath(r.name).path,
    binary: numstat[i][0] === 0x2d,
    sections: r.status === 'T' ? 2 : 1,
  }));
}

const DIFF_HEADER = Buffer.from('diff --git ');
const [PLUS, MINUS, AT] = ['+', '-', '@'].map((c) => c.charCodeAt(0));
const CR = 0x0d;

/**
 * Where a byte next occurs at or after a position, for positions that only grow: each search
 * starts where the last one ended, so scanning a whole patch line by line stays linear.
 */
class NextByte {
  private found = -1;
  private searchedFrom = Infinity;
  constructor(
    private readonly patch: Buffer,
    private readonly byte: number,
  ) {}

  /** The first occurrence at or after `position`, or Infinity. */
  at(position: number): number {
    // The last search answers too if it started no later and found nothing, or nothing before `position`.
    if (!(this.searchedFrom <= position && (this.found === -1 || this.found >= position))) {
      this.found = this.patch.indexOf(this.byte, position);
      this.searchedFrom = position;
    }
    return this.found === -1 ? Infinity : this.found;
  }
}

/**
 * Lines a patch line `[start, end)` holds beyond its own: git breaks lines at `\n` alone, but a
 * lone carriage return ends a line for JavaScript, Python and most editors, and JavaScript ends
 * one at U+2028 and U+2029 (E2 80 A8, E2 80 A9) too, so a file of thousands of statements could
 * count as one line. A carriage return just before the newline is the line's own CRLF ending.
 */
function hiddenBreaks(patch: Buffer, next: { cr: NextByte; e2: NextByte }, start: number, end: number): number {
  const last = patch[end - 1] === CR ? end - 1 : end;
  let n = 0;
  for (let at = next.cr.at(start); at < last; at = next.cr.at(at + 1)) n++;
  for (let at = next.e2.at(start); at + 2 < end; at = next.e2.at(at + 1))
    if (patch[at + 1] === 0x80 && (patch[at + 2] === 0xa8 || patch[at + 2] === 0xa9)) n++;
  return n;
}

/**
 * Added and deleted lines and added bytes of each file section of a patch (any context width), in
 * order. Read line by line from the bytes, never split into strings: a patch of a 100 MiB file of
 * empty lines would be a hundred million strings, gigabytes of the worker's memory. Line ends git
 * does not see are counted in every file, binary or not: git calls a file binary for one NUL byte,
 * which a JavaScript comment may hold, and random bytes hold as many carriage returns as newlines,
 * so a real binary file counts about twice the lines git sees.
 */
function countPatch(patch: Buffer): Array<{ added: number; deleted: number; bytesAdded: number }> {
  const sections: Array<{ added: number; deleted: number; bytesAdded: number }> = [];
  let inHunks = false;
  const next = { cr: new NextByte(patch, CR), e2: new NextByte(patch, 0xe2) };
  for (let start = 0; start < patch.length;) {
    const newline = patch.indexOf(0x0a, start);
    const end = newline === -1 ? patch.length : newline;
    const first = patch[start];
    if (patch.compare(DIFF_HEADER, 0, DIFF_HEADER.length, start, Math.min(end, start + DIFF_HEADER.length)) === 0) {
      sections.push({ added: 0, deleted: 0, bytesAdded: 0 });
      inHunks = false;
    } else if (first === AT && patch[start + 1] === AT && end - start >= 2) inHunks = true;
    else if (inHunks && first === PLUS) {
      const s = sections[sections.length - 1];
      s.added += 1 + hiddenBreaks(patch, next, start, end);
      s.bytesAdded += end - start; // the '+' stands in for the line's newline
    } else if (inHunks && first === MINUS && end > start)
      sections[sections.length - 1].deleted += 1 + hiddenBreaks(patch, next, start, end);
    start = end + 1;
  }
  return sections;
}

/** A change read from objects: every changed file, and the binary-safe patch that delivers it. */
export interface MeasuredChange {
  files: FileChange[];
  /** The full patch from the base commit to the tree, as bytes, applicable with `git apply`. */
  patch: Buffer;
}

/** Per file, the sections of `counts` that belong to it (in diff order) summed. */
function perFile(treeId: string, paths: ChangedPath[], counts: ReturnType<typeof countPatch>): FileChange[] {
  const expected = paths.reduce((n, p) => n + p.sections, 0);
  if (counts.length !== expected)
    throw new Error(`diff of ${treeId} lists ${expected} patch sections but its patch has ${counts.length}`);
  let next = 0;
  return paths.map(({ path, binary, sections }) => {
    const mine = counts.slice(next, (next += sections));
    const sum = (k: 'added' | 'deleted' | 'bytesAdded') => mine.reduce((n, c) => n + c[k], 0);
    return { path, binary, added: sum('added'), deleted: sum('deleted'), bytesAdded: sum('bytesAdded') };
  });
}

const measured = new ObjectCache<FileChange[]>(1024);

/**
 * Every changed file between `baseCommit` and `treeId`, and the patch, read from objects alone.
 * Lines are counted as if every file were text, so neither an attribute nor a NUL byte hides
 * them: from the patch itself while git calls no file binary (the two then agree line for line),
 * else from a second patch that forces text.
 */
export async function measureChange(
  gitDir: string,
  baseCommit: string,
  treeId: string,
  deadline = measureDeadline(),
): Promise<MeasuredChange> {
  const paths = await changedPaths(gitDir, baseCommit, treeId, deadline);
  const patch = await objectGitBytes(
    gitDir,
    ['diff-tree', ...DIFF_FLAGS, '-p', '--binary', '--full-index', baseCommit, treeId],
    until(deadline),
  );
  const asText = paths.some((p) => p.binary)
    ? await objectGitBytes(
        gitDir,
        ['diff-tree', ...DIFF_FLAGS, '-p', '-a', '-U0', '--full-index', baseCommit, treeId],
        until(deadline),
      )
    : patch;
  const files = perFile(treeId, paths, countPatch(asText));
  measured.set([gitDir, baseCommit, treeId], files);
  return { files, patch };
}

/** The changed files of {@link measureChange}, remembered from measuring the same objects when this process did. */
export async function changedFiles(gitDir: string, baseCommit: string, treeId: string): Promise<FileChange[]> {
  return measured.get(
    [gitDir, baseCommit, treeId],
    async () => (await measureChange(gitDir, baseCommit, treeId)).files,
  );
}

/** Just the names of the paths that differ between two commits or trees. */
export async function differingPaths(gitDir: string, from: string, to: string): Promise<string[]> {
  return records(await objectGitBytes(gitDir, ['diff-tree', ...DIFF_FLAGS, '--name-only', '-z', from, to]))
    .filter((r) => r.length > 0)
    .map((r) => decodePath(r).path);
}

const listed = new ObjectCache<TreeEntry[]>(1024);

/**
 * Every entry of `treeId`, recursively, with names decoded exactly or flagged; remembered per
 * tree, since the tree gate and each gate's checkout list the same one.
 */
export function treeEntries(gitDir: string, treeId: string): Promise<TreeEntry[]> {
  return listed.get([gitDir, treeId], async () => {
    const out = await objectGitBytes(gitDir, ['ls-tree', '-r', '-l', '-z', '--full-tree', treeId]);
    return records(out)
      .filter((r) => r.length > 0)
      .map((record) => {
        const tab = record.indexOf(0x09);
        // The size is padded with spaces, and `-` for a gitlink.
        const [mode, type, oid, size] = record.subarray(0, tab).toString('latin1').split(/ +/);
        const name = decodePath(record.subarray(tab + 1));
        const entry = { mode, type: type as TreeEntry['type'], oid, path: name.path, validName: name.valid };
        return type === 'blob' ? { ...entry, size: Number(size) } : entry;
      });
  });
}
