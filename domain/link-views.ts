/**
 * Where a checkout shows a changed path besides its own name: through the tree's symlinks, one or
 * more deep (`shared/x.js` is also `src/secret/shared/x.js` when `src/secret -> ../internal/secret`
 * and `internal/secret/shared -> ../../shared`), names compared as a case-folding file system
 * compares them. The protected and scope gates judge those names as they judge the change's own.
 * Found in review: one hop only, compared case-sensitively (`src/INTERNAL/secret/new.js` passed),
 * a changed link on a guarding link's way not seen, and no bound on the work.
 */
import { printable } from './printable';
import { foldCase, folded } from './scope-match';
import { linkResolver, type TreeItem } from './tree-rules';

/** What a gate guards, and how. */
export interface LinkGuard {
  /** What is guarded, in messages: `protected`, `scope.out`. */
  name: string;
  isGuarded(path: string): boolean;
  /** A link's path that stands for a guarded folder or one above it (`.github -> ci/gh`). */
  standsForGuarded(path: string): boolean;
  /** Whether a link may show a changed path under a guarded name (`made`: the change or its base made it). */
  counts(link: TreeItem, made: boolean): boolean;
  /** The globs `isGuarded` matches: the work of a name is its length times these. */
  globs: number;
}

/** Links followed from one changed path at most. */
const MAX_HOPS = 8;
/** Name characters times globs matched at most (as the scope gate's own bound); past it the gate fails. */
export const MAX_LINK_WORK = 12_000_000;

const key = (path: string) => foldCase(folded(path));

const MAX_LISTED = 20;
const listed = (paths: string[]) =>
  paths.slice(0, MAX_LISTED).map(printable).join(', ') +
  (paths.length > MAX_LISTED ? ` and ${paths.length - MAX_LISTED} more` : '');

/** Every prefix of `name` that ends a name (`a`, `a/b`, `a/b/c` for `a/b/c`), and the root, longest first. */
function prefixEnds(name: string): number[] {
  const ends = [name.length];
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) ends.push(i);
  return [...ends, 0];
}

/**
 * Problems of the tree's links under `guard`: a link the change or its base made that stands for a
 * guarded folder, a changed link on the way of a link on or above a guarded name (it re-points
 * what that one shows), and each changed path (`touched`) a checkout shows at a guarded name
 * through links of which one `counts`.
 */
export function guardedLinkProblems(
  links: readonly TreeItem[],
  touched: readonly string[],
  guard: LinkGuard,
): string[] {
  const made = new Set(touched);
  const resolve = linkResolver(links);
  const byTarget = new Map<string, TreeItem[]>();
  const shown = new Map<string, Set<string>>();
  const note = (link: string, path: string) => shown.set(link, (shown.get(link) ?? new Set()).add(path));
  const problems: string[] = [];
  const tooMuch = `the tree's links and the ${touched.length} changed paths are too many to read through each other`;
  for (const link of links) {
    const via: string[] = [];
    const target = resolve(link, via);
    if (target === 'too-complex') return [tooMuch];
    if (target === undefined) continue;
    byTarget.set(key(target), [...(byTarget.get(key(target)) ?? []), link]);
    if (!guard.isGuarded(link.path) && !guard.standsForGuarded(link.path)) continue;
    if (made.has(link.path) && !guard.isGuarded(link.path))
      problems.push(`symlink standing for a ${guard.name} folder: ${printable(link.path)}`);
    if (guard.counts(link, made.has(link.path))) for (const v of via) if (made.has(v)) note(link.path, v);
  }
  let work = 0;
  for (const path of touched) {
    let frontier = [{ name: key(path), counted: false }];
    for (let hop = 0; hop < MAX_HOPS && frontier.length > 0; hop++) {
      const next: typeof frontier = [];
      for (const { name, counted } of frontier)
        for (const end of prefixEnds(name))
          for (const link of byTarget.get(name.slice(0, end)) ?? []) {
            const alias = end === 0 ? `${link.path}/${name}` : link.path + name.slice(end);
            const countsHere = counted || guard.counts(link, made.has(link.path));
            work += alias.length * (guard.globs + 1);
            if (work > MAX_LINK_WORK) return [...problems, tooMuch];
            if (link.path !== path && countsHere && guard.isGuarded(alias)) note(link.path, path);
            next.push({ name: key(alias), counted: countsHere });
          }
      frontier = next;
    }
  }
  for (const [link, paths] of shown)
    problems.push(`changed where ${printable(link)} shows a ${guard.name} path: ${listed([...paths])}`);
  return problems;
}
