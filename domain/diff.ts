/**
 * The measured change as the workflow, the verdict and the CLI see it. Its own module so the
 * task snapshot and the activity shapes can both name it without importing each other.
 */

/** The measured change: counts, the tree it pins, and the stored patch's id and digest. */
export interface DiffSummary {
  filesChanged: number;
  linesAdded: number;
  linesDeleted: number;
  /** Bytes the change adds, counted from tree objects with every file read as text: nothing an agent writes shrinks it. */
  bytesAdded: number;
  /** Changed files git's content check (no attributes) calls binary. */
  binaryFiles: number;
  /** Ignored files the agent left in its workspace: in no tree, never gated or delivered (first 50 named). */
  leftBehind: { count: number; paths: string[] };
  /** Folders (not ignored) holding a `.git` of their own: kept out of the tree, and refused by the `tree` gate. */
  nestedRepositories: string[];
  /** git tree id of the measured workspace: what is checked and delivered. */
  treeId: string;
  /** sha256 of the binary-safe patch bytes; the patch itself is stored as an artifact. */
  digest: string;
  artifactId: string;
}

/** What a change measures: the figures a budget judges and a verdict states, kept with its patch. */
export type PatchStats = Pick<
  DiffSummary,
  'filesChanged' | 'linesAdded' | 'linesDeleted' | 'bytesAdded' | 'binaryFiles'
>;

/**
 * A change's figures with what its measurement found beside the tree (absent from rows stored
 * before it was kept): the tree gate reads them from the record, not from its caller.
 */
export type MeasuredStats = PatchStats & Partial<Pick<DiffSummary, 'leftBehind' | 'nestedRepositories'>>;

/** `diff`'s figures alone. */
export function patchStatsOf(diff: PatchStats): PatchStats {
  const { filesChanged, linesAdded, linesDeleted, bytesAdded, binaryFiles } = diff;
  return { filesChanged, linesAdded, linesDeleted, bytesAdded, binaryFiles };
}

/** `stats` as a reader checks them: "3 files, +10 -2 lines, 480 bytes, 0 binary". */
export function describeStats(s: PatchStats): string {
  return `${s.filesChanged} files, +${s.linesAdded} -${s.linesDeleted} lines, ${s.bytesAdded} bytes, ${s.binaryFiles} binary`;
}
