/**
 * Where a checkout shows a changed path besides its own name: through the tree's symlinks, one or
 * more deep (`shared/x.js` is also `src/secret/shared/x.js` when `src/secret -> ../internal/secret`
 * and `internal/secret/shared -> ../../shared`), names compared as a case-folding file system
 * compares them. The protected and scope gates judge those names as they judge the change's own.
 *
 * Each link that counts (`LinkGuard.counts`) opens a view: the real folder it names, seen under
 * its own path. A link inside a view's folder opens another, and so on; each (folder, view) once.
 * A changed path inside a view's folder is seen under the view's name too. Found in review: one
 * hop only, compared case-sensitively (`src/INTERNAL/secret/new.js` passed), a changed name on a
 * guarding link's way not seen, and the work unbounded, then bounded so that two links to the
 * root in a fixture folder failed every change.
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
  /** Whether a link opens a view (`made`: the change or its base made it). */
  counts(link: TreeItem, made: boolean): boolean;
  /** The globs `isGuarded` matches: the work of a name is its length times these. */
  globs: number;
}

/** Name characters times globs matched at most (as the scope gate's own bound); past it the gate fails. */
export const MAX_LINK_WORK = 12_000_000;
/** Views opened at most, and links deep (a loop aside); past either the gate fails rather than read less. */
const MAX_VIEWS = 10_000;
const MAX_DEPTH = 32;

const key = (path: string) => foldCase(folded(path));

const MAX_LISTED = 20;
const listed = (paths: string[]) =>
  paths.slice(0, MAX_LISTED).map(printable).join(', ') +
  (paths.length > MAX_LISTED ? ` and ${paths.length - MAX_LISTED} more` : '');

/** A real folder (its key) seen under `view` too, through the link at `origin` first. */
interface View {
  folder: string;
  view: string;
  origin: string;
}

/** The tree's resolvable links by key, sorted, so those inside a folder are one range. */
function linksByKey(links: readonly TreeItem[], targets: Map<TreeItem, string>) {
  const sorted = links
    .filter((l) => targets.has(l))
    .map((l) => ({ k: key(l.path), target: key(targets.get(l) as string) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  const first = (bound: string) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid].k < bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // '0' follows '/': the keys inside `folder/` are those from `folder/` up to `folder0`.
  return (folder: string) => (folder === '' ? sorted : sorted.slice(first(`${folder}/`), first(`${folder}0`)));
}

/** Every view the counting links open, or undefined past the bounds. */
function openViews(starts: View[], inside: ReturnType<typeof linksByKey>): Map<string, View[]> | undefined {
  const views = new Map<string, View[]>();
  const seen = new Set<string>();
  let queue = starts.map((v) => ({ ...v, chain: [v.folder] }));
  while (queue.length > 0) {
    const next: typeof queue = [];
    for (const v of queue) {
      const id = `${v.folder}\0${key(v.view)}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (seen.size > MAX_VIEWS || v.chain.length > MAX_DEPTH) return undefined;
      views.set(v.folder, [...(views.get(v.folder) ?? []), v]);
      for (const l of inside(v.folder)) {
        // A loop (`.github -> .`) shows the same names again, longer each time: twice round is enough.
        if (v.chain.filter((f) => f === l.target).length >= 2) continue;
        const view = v.folder === '' ? `${v.view}/${l.k}` : v.view + l.k.slice(v.folder.length);
        next.push({ folder: l.target, view, origin: v.origin, chain: [...v.chain, l.target] });
      }
    }
    queue = next;
  }
  return views;
}

/**
 * Problems of the tree's links under `guard`: a link the change or its base made that stands for a
 * guarded folder, a changed name on the way of a counting link on or above a guarded name (it
 * re-points what that one shows), and each changed path (`touched`) a view shows at a guarded name.
 */
export function guardedLinkProblems(
  links: readonly TreeItem[],
  touched: readonly string[],
  guard: LinkGuard,
): string[] {
  if (links.length === 0) return [];
  const made = new Set(touched.map(key));
  const resolve = linkResolver(links);
  const targets = new Map<TreeItem, string>();
  const shown = new Map<string, Set<string>>();
  const note = (link: string, path: string) => shown.set(link, (shown.get(link) ?? new Set()).add(path));
  const problems: string[] = [];
  const tooMuch = `the tree's links and the ${touched.length} changed paths are too many to read through each other`;
  const starts: View[] = [];
  for (const link of links) {
    const via: string[] = [];
    const target = resolve(link, via);
    if (target === 'too-complex') return [tooMuch];
    if (target === undefined) continue;
    targets.set(link, target);
    const isMade = made.has(key(link.path));
    const onGuarded = guard.isGuarded(link.path) || guard.standsForGuarded(link.path);
    if (isMade && onGuarded && !guard.isGuarded(link.path))
      problems.push(`symlink standing for a ${guard.name} folder: ${printable(link.path)}`);
    if (!guard.counts(link, isMade)) continue;
    starts.push({ folder: key(target), view: link.path, origin: link.path });
    if (onGuarded) for (const v of via) if (made.has(key(v))) note(link.path, v);
  }
  const views = openViews(starts, linksByKey(links, targets));
  if (!views) return [...problems, tooMuch];
  const lengths = [...new Set([...views.keys()].map((f) => f.length))];
  let work = 0;
  for (const path of touched) {
    const k = key(path);
    work += k.length + lengths.length;
    for (const length of lengths) {
      if (length > k.length || (length > 0 && length < k.length && k[length] !== '/')) continue;
      for (const v of views.get(k.slice(0, length)) ?? []) {
        const alias = length === 0 ? `${v.view}/${k}` : v.view + k.slice(length);
        work += alias.length * (guard.globs + 1);
        if (work > MAX_LINK_WORK) return [...problems, tooMuch];
        if (guard.isGuarded(alias)) note(v.origin, path);
      }
    }
  }
  for (const [link, paths] of shown)
    problems.push(`changed where ${printable(link)} shows a ${guard.name} path: ${listed([...paths])}`);
  return problems;
}
