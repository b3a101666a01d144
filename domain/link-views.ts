/**
 * Where a checkout shows a changed path besides its own name: through the tree's symlinks, one or
 * more deep (`shared/x.js` is also `src/secret/shared/x.js` when `src/secret -> ../internal/secret`
 * and `internal/secret/shared -> ../../shared`), names compared as a case-folding file system
 * compares them. The protected and scope gates judge those names as they judge the change's own.
 *
 * Each link that counts (`LinkGuard.counts`) opens a view: the real folder it names, seen under
 * its own path. A link inside a view's folder opens another, and so on, each folder under a few
 * names an origin at most. A changed path inside a view's folder is seen under the view's name
 * too, and a changed name on the way of a link a view passes re-points it. Found in review: one
 * hop only, compared case-sensitively (`src/INTERNAL/secret/new.js` passed), a changed name on a
 * link's way not seen, the work unbounded (a worker out of memory), and bounds that failed every
 * change of repositories with links to the root in fixture folders, or between packages.
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
const MAX_LINK_WORK = 12_000_000;
/** Views pushed at most, and links deep; past either the gate fails rather than read less. */
const MAX_VIEWS = 10_000;
const MAX_DEPTH = 32;
/**
 * Names one origin's views give one folder at most: a loop (`.github -> .`) or a monorepo's links
 * between packages reach a folder under ever more names, and listing them all failed a
 * 10-package repository (found in review); the first few are judged.
 */
const NAMES_PER_FOLDER = 4;
/** Links read inside views at most. */
const MAX_STEPS = 2_000_000;

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

/** A resolved link: its key, its target's key, and the changed names on its way. */
interface Resolved {
  k: string;
  target: string;
  changedOnWay: string[];
}

/** The tree's resolvable links by key, sorted, so those inside a folder are one range. */
function linksByKey(resolved: Resolved[]) {
  const sorted = [...resolved].sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
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

/**
 * Every view the counting links open, or undefined past the bounds. `onWay` hears of each changed
 * name on the way of a link a view passes through (it re-points what the view shows).
 */
function openViews(
  starts: View[],
  inside: ReturnType<typeof linksByKey>,
  onWay: { guarded: (view: string) => boolean; heard: (origin: string, name: string) => void },
): Map<string, View[]> | undefined {
  const views = new Map<string, View[]>();
  const named = new Map<string, Set<string>>();
  let pushed = 0;
  let steps = 0;
  // Each (origin, folder) gets its first few names; counted as they are taken, before any is opened.
  const take = (v: View) => {
    const id = `${v.origin}\0${v.folder}`;
    const names = named.get(id) ?? named.set(id, new Set()).get(id)!;
    if (names.size >= NAMES_PER_FOLDER || names.has(key(v.view))) return false;
    names.add(key(v.view));
    const list = views.get(v.folder) ?? views.set(v.folder, []).get(v.folder)!;
    list.push(v);
    return ++pushed <= MAX_VIEWS;
  };
  let queue = starts.filter(take);
  if (pushed > MAX_VIEWS) return undefined;
  for (let depth = 0; queue.length > 0; depth++) {
    if (depth > MAX_DEPTH) return undefined;
    const next: View[] = [];
    for (const v of queue)
      for (const l of inside(v.folder)) {
        if (++steps > MAX_STEPS) return undefined;
        const view = v.folder === '' ? `${v.view}/${l.k}` : v.view + l.k.slice(v.folder.length);
        if (l.changedOnWay.length && onWay.guarded(view))
          for (const name of l.changedOnWay) onWay.heard(v.origin, name);
        const opened = { folder: l.target, view, origin: v.origin };
        if (take(opened)) next.push(opened);
        else if (pushed > MAX_VIEWS) return undefined;
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
  const resolved: Resolved[] = [];
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
    const changedOnWay = via.filter((v) => made.has(key(v)));
    resolved.push({ k: key(link.path), target: key(target), changedOnWay });
    const isMade = made.has(key(link.path));
    const onGuarded = guard.isGuarded(link.path) || guard.standsForGuarded(link.path);
    if (isMade && onGuarded && !guard.isGuarded(link.path))
      problems.push(`symlink standing for a ${guard.name} folder: ${printable(link.path)}`);
    if (!guard.counts(link, isMade)) continue;
    starts.push({ folder: key(target), view: link.path, origin: link.path });
    if (onGuarded) for (const v of changedOnWay) note(link.path, v);
  }
  const guarded = (view: string) => guard.isGuarded(view) || guard.standsForGuarded(view);
  const views = openViews(starts, linksByKey(resolved), { guarded, heard: note });
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
