/**
 * Scope entries of a CAWS working spec: telling enforceable path globs from prose, and
 * normalising the enforceable ones. Pure: imported by workflow code.
 *
 * Why this matters: scope is an allow-list (`scope.in`) with a deny-list on top
 * (`scope.out`). Real CAWS specs write things like `user authentication` or whole
 * paragraphs in those lists. A matcher fed prose would match nothing, which for
 * `scope.out` silently drops an exclusion the author meant. So prose is separated out
 * and reported, never fed to a matcher.
 */

/** Characters a repository path glob may contain (letters and digits of any script). */
const PATH_CHARS = /^[\p{L}\p{N}._\-/*?{}[\]!@+,~=#%()^&$]+$/u;
/** `TODO:`, `note:`, `https:` ... — a word followed by a colon reads as prose or a URL. */
const LEADING_LABEL = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const GLOB_CHARS = /[*?[\]{}!]/;

/**
 * Decides whether a scope entry can be enforced as a path glob; everything else is
 * treated as prose. Whitespace is the main signal: CAWS prose entries are phrases and
 * sentences, while repository paths with spaces are rare enough that asking the author to
 * rewrite them is cheaper than guessing. A single bare word (`CODEOWNERS`, `Makefile`)
 * counts as a path because it is indistinguishable from a file name; if it was meant as
 * prose, treating it as a path can only admit a literal file of that name.
 */
export function isPathGlob(entry: string): boolean {
  const s = entry.trim();
  if (s.length === 0 || /\s/u.test(s)) return false;
  if (LEADING_LABEL.test(s)) return false;
  return PATH_CHARS.test(s);
}

/**
 * Flags path entries that no workspace-relative matcher can honour. An absolute path or a
 * `..` segment points outside the repository the sandbox hands the agent, so it is a
 * mistake in the spec rather than something to warn about.
 */
export function outsideRepository(entry: string): boolean {
  const s = entry.trim();
  return s.startsWith('/') || s.startsWith('~') || s.split('/').includes('..');
}

/**
 * Rewrites a CAWS scope entry into the globs Arbiter matches against. CAWS treats a plain
 * entry as "this path and everything below it", so `src/` becomes `src/**` and an entry
 * without a trailing slash (file or directory — the spec does not say) becomes both the
 * path itself and `path/**`; for a file the second glob simply never matches. Entries
 * that already contain glob syntax are kept as written. Match the result with dotfiles
 * enabled (see `scope-match.ts`): CAWS specs routinely list `.caws/` and `.github/`.
 */
export function normaliseScopeEntry(entry: string): string[] {
  // A `.` name is the folder it is in (`src/./secret/`, `src/secret/.`): kept, the glob matched no path.
  const s = entry
    .trim()
    .split('/')
    .filter((name, i, all) => name !== '.' && (name !== '' || i === 0 || i === all.length - 1))
    .join('/');
  if (s === '' || s === '**' || s === '**/*') return ['**'];
  if (s.endsWith('/')) return [`${s}**`];
  if (GLOB_CHARS.test(s)) return [s];
  return [s, `${s}/**`];
}

/**
 * The glob grammar Arbiter matches: path characters, `*` and `?` within a name, and one `**`.
 * picomatch compiles globs to backtracking regexes and scope globs are matched against paths an
 * agent names, so anything that nests or alternates (groups, braces, classes, extended globs)
 * is refused rather than matched: `((a)+)+b` or thirty `{a,aa}` take minutes of the worker's
 * main thread on a forty-character name, eight `*` runs 37 s, three in one name 8 ms a glob
 * against a 255-character name. Real CAWS specs use at most two wildcards and none of the rest.
 */
const GLOB_LIMITS = { length: 256, wildcardRuns: 3, globstars: 1, wildcardRunsInAName: 2 };
const GLOB_GRAMMAR = /^[\p{L}\p{N}._\-/~=#%&,@+!*?]+$/u;

/** Entries a spec's scope may have (`in`, `support` and `out` together): each is matched against every path a change touches. Real specs list at most 37 in one list. */
export const MAX_SCOPE_ENTRIES = 200;

/** Why `glob` (as normalised) is outside the grammar Arbiter matches, or null. */
export function globProblem(glob: string): string | null {
  if (glob.length > GLOB_LIMITS.length) return `is longer than ${GLOB_LIMITS.length} characters`;
  if (glob.startsWith('!')) return "starts with '!', which would admit every path but the one it names";
  if (!GLOB_GRAMMAR.test(glob))
    return 'uses glob syntax Arbiter does not match (groups, braces, classes, extended globs): list each path';
  const runs = glob.match(/\*+/g)?.length ?? 0;
  if (runs > GLOB_LIMITS.wildcardRuns) return `has ${runs} wildcards; at most ${GLOB_LIMITS.wildcardRuns} are matched`;
  const crowded = glob.split('/').find((name) => (name.match(/\*+/g)?.length ?? 0) > GLOB_LIMITS.wildcardRunsInAName);
  if (crowded !== undefined)
    return `has more than ${GLOB_LIMITS.wildcardRunsInAName} wildcards in one name ('${crowded}')`;
  const joined = glob.split('/').find((name) => name.includes('**') && name !== '**');
  // picomatch reads `**.md` as `**/*.md` but `**a` as `*a`, and `a**` as `a*`: a name of its own says which.
  if (joined !== undefined)
    return `has '**' inside a name ('${joined}'): write it as a name of its own, such as **/*.md`;
  const globstars = glob.match(/\*\*/g)?.length ?? 0;
  if (globstars > GLOB_LIMITS.globstars) return `has ${globstars} '**'; at most ${GLOB_LIMITS.globstars} is matched`;
  return null;
}

/** The outcome of splitting one scope list; see {@link classifyScopeList}. */
export interface ScopeListResult {
  globs: string[];
  prose: string[];
  /** Indexes of entries that are paths but point outside the repository. */
  outside: number[];
  /** Indexes of entries that are prose. */
  proseIndexes: number[];
  /** Entries refused as globs ({@link globProblem}), by index. */
  refused: Array<{ index: number; problem: string }>;
}

/**
 * Splits a raw scope list into enforceable globs and verbatim prose, keeping indexes so
 * every problem or warning can name the exact entry (`scope.out[3]`).
 */
export function classifyScopeList(entries: readonly string[]): ScopeListResult {
  const result: ScopeListResult = { globs: [], prose: [], outside: [], proseIndexes: [], refused: [] };
  const kept = new Set<string>();
  entries.forEach((entry, i) => {
    if (!isPathGlob(entry)) {
      result.prose.push(entry);
      result.proseIndexes.push(i);
      return;
    }
    if (outsideRepository(entry)) {
      result.outside.push(i);
      return;
    }
    const globs = normaliseScopeEntry(entry);
    const problem = globs.map(globProblem).find((p) => p !== null);
    if (problem) result.refused.push({ index: i, problem });
    else for (const g of globs) kept.add(g);
  });
  result.globs = [...kept];
  return result;
}

/**
 * A list that must hold enforceable paths only (a policy's `arbiter.protected`): its globs, and a
 * problem, named by `at(index)`, for each entry that is prose, outside the repository or outside
 * the grammar. Unlike a spec's scope, where prose is only warned about, nothing here is skipped.
 */
export function enforceablePaths(
  entries: readonly string[],
  at: (index: number) => string,
): { globs: string[]; problems: string[] } {
  const listed = classifyScopeList(entries);
  const problems = [
    ...listed.proseIndexes.map((i) => `${at(i)}: must be a path glob, not prose`),
    ...listed.outside.map((i) => `${at(i)}: must be a path inside the repository`),
    ...listed.refused.map(({ index, problem }) => `${at(index)}: ${problem}`),
  ];
  return { globs: listed.globs, problems };
}

/** Shortens prose for a one-line message; the full text stays in `unenforceableScope`. */
export function quoteEntry(entry: string, max = 80): string {
  const flat = entry.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > max ? `${flat.slice(0, max - 1)}…` : flat);
}
