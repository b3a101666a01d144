/**
 * What a change's tree may contain. A gitlink (submodule entry) would deliver a pointer to code
 * nobody verified; a symlink can make a gate, a reviewer or a later checkout read a file outside
 * the repository. Pure: the caller lists the tree, this decides.
 */
import { foldCase, folded } from './scope-match';

/** A tree entry as the rules need it: its mode, path and, for a symlink, its target. */
export interface TreeItem {
  mode: string;
  path: string;
  target?: string;
  /** False when the name (or a symlink's target) is not valid UTF-8 and so cannot be named exactly. */
  exact?: boolean;
}

const SYMLINK = '120000';
const GITLINK = '160000';
const MAX_LINK_HOPS = 40;
/**
 * Work all of a tree's links may take to resolve, together, counted in path segments read and
 * looked up. An agent chooses how many links there are and how long their targets (4,095 bytes
 * each): without a budget, ten thousand links of 800 `x/` and 800 `../` took twenty minutes of
 * the worker's main thread.
 */
const RESOLUTION_BUDGET = 200_000;

/**
 * Resolves `target` (a link at `linkPath`) the way the kernel would, following the tree's other
 * symlinks, entirely inside the tree: the path it names ('' for the tree's root). False when it
 * leaves the tree (absolute, too many `..`, or through another link that does) or loops.
 */
function resolveInTree(
  linkPath: string,
  target: string,
  links: LinkLookup,
  budget: { steps: number },
  via: string[] = [],
): string | false | 'too-complex' {
  if (target.startsWith('/')) return false;
  const pending = [...target.split('/')];
  const parts = linkPath.split('/').slice(0, -1);
  let hops = 0;
  while (pending.length > 0) {
    budget.steps -= 1 + parts.length;
    if (budget.steps < 0) return 'too-complex';
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return false;
      parts.pop();
      continue;
    }
    parts.push(part);
    const name = parts.join('/');
    // Charged by its characters too: a 4 KB name read again at each step cost seconds (found in review).
    budget.steps -= name.length >> 3;
    via.push(name);
    const next = links(name);
    if (next === undefined) continue;
    if (++hops > MAX_LINK_HOPS || next.startsWith('/')) return false;
    parts.pop();
    const through = next.split('/');
    budget.steps -= through.length;
    pending.unshift(...through);
  }
  return parts.join('/');
}

/** The target of the link named so, if one is: exactly, or as a case-folding checkout reads names. */
type LinkLookup = (name: string) => string | undefined;

const nameKey = (name: string) => foldCase(folded(name));

/** Both readings of the tree's links: git's (names exact) and a case-folding checkout's. */
function lookups(links: Map<string, string>): LinkLookup[] {
  const byKey = new Map<string, string>();
  for (const [path, target] of links) if (!byKey.has(nameKey(path))) byKey.set(nameKey(path), target);
  return [(name) => links.get(name), (name) => byKey.get(nameKey(name))];
}

/** Whether the link resolves inside the tree under every reading (found in review: `A -> ../..` is `a` on macOS). */
function resolvesInside(
  linkPath: string,
  target: string,
  links: LinkLookup[],
  budget: { steps: number },
): boolean | 'too-complex' {
  for (const lookup of links) {
    const resolved = resolveInTree(linkPath, target, lookup, budget);
    if (resolved === 'too-complex' || resolved === false) return resolved === 'too-complex' ? resolved : false;
  }
  return true;
}

/**
 * Resolves links of a tree whose symlinks are `links`, inside it (following the others), sharing
 * one work budget, which grows with the links (a repository's own many links are each cheap): the
 * path each names, undefined where it leaves the tree or loops, 'too-complex' once the budget is
 * spent. `via` collects the names passed on the way.
 */
export function linkResolver(
  links: readonly TreeItem[],
): (link: TreeItem, via?: string[]) => string | undefined | 'too-complex' {
  const map = new Map(links.map((l) => [l.path, l.target ?? '']));
  const budget = { steps: RESOLUTION_BUDGET + 400 * links.length };
  return (link, via) => {
    const resolved = resolveInTree(link.path, link.target ?? '', (name) => map.get(name), budget, via);
    return resolved === false ? undefined : resolved;
  };
}

/**
 * Why the tree's unchanged links that now leave it do so by way of a name the change touched: an
 * old `src/a -> b/../../README.md` stays inside until the change adds `src/b -> ..`, or turns the
 * old link `src/c` it passes into a folder (found in review). Every old link is resolved, on a
 * budget of its own that grows with them, so a tree of many old links cannot starve the change's.
 */
function escapesThroughChange(links: Map<string, string>, changed: ReadonlySet<string>): string[] {
  if (changed.size === 0) return [];
  const budget = { steps: RESOLUTION_BUDGET + 800 * links.size };
  const touched = new Set([...changed].map(nameKey));
  const readings = lookups(links);
  for (const [path, target] of links) {
    if (changed.has(path)) continue;
    for (const lookup of readings) {
      const via: string[] = [];
      const resolved = resolveInTree(path, target, lookup, budget, via);
      if (resolved === 'too-complex')
        return [`the tree's links are too many or too long to tell whether the change takes ${path} outside it`];
      const through = via.find((v) => touched.has(nameKey(v)));
      if (resolved === false && through !== undefined)
        return [
          `${path} is a symlink to '${target}', which the change to ${through} takes outside the tree or into a loop`,
        ];
    }
  }
  return [];
}

/**
 * Every problem with the entries the change adds or modifies, each naming its path, and with the
 * old links those take outside the tree. Links are resolved through the whole tree, so a new link
 * cannot escape by way of an old one, nor make one escape.
 */
export function treeProblems(
  items: readonly TreeItem[],
  changed: ReadonlySet<string>,
  options: { allowSymlinks: boolean },
): string[] {
  const links = new Map(items.filter((i) => i.mode === SYMLINK).map((i) => [i.path, i.target ?? '']));
  const budget = { steps: RESOLUTION_BUDGET };
  const readings = lookups(links);
  return [
    ...items.flatMap((item) => changedItemProblems(item, changed, readings, budget, options)),
    ...escapesThroughChange(links, changed),
  ];
}

/** An 8.3 alias (`GITHUB~1`, `SECRET~1.JS`): where short names are on, such a name is another folder's or file's. */
const SHORT_NAME = /^[^.]{1,6}~[0-9]{1,6}(\.[^.]{1,3})?$/;

function changedItemProblems(
  item: TreeItem,
  changed: ReadonlySet<string>,
  links: LinkLookup[],
  budget: { steps: number },
  options: { allowSymlinks: boolean },
): string[] {
  if (!changed.has(item.path)) return [];
  if (item.exact === false)
    return [`${item.path} has a name or target that is not valid UTF-8; refused, since it cannot be named exactly`];
  if (item.mode === GITLINK) return [`${item.path} is a gitlink (submodule entry); submodules are refused`];
  const names = item.path.split('/');
  if (names.some((name) => /[. ]$/.test(name) && !/^\.+$/.test(name)))
    return [
      `${item.path} has a name ending in a dot or a space, which a Windows checkout writes without it (under another path than was judged)`,
    ];
  if (names.some((name) => SHORT_NAME.test(name)))
    return [
      `${item.path} has a name of the form Windows gives a longer name's short alias (8.3), which a Windows checkout may write under that longer name`,
    ];
  if (item.mode !== SYMLINK) return [];
  const target = item.target ?? '';
  const inside = resolvesInside(item.path, target, links, budget);
  if (inside === 'too-complex')
    return [
      `${item.path} is a symlink the tree's links are too many or too long to resolve (past a budget of ${RESOLUTION_BUDGET} path segments)`,
    ];
  if (!inside) return [`${item.path} is a symlink to '${target}', outside the tree`];
  if (!options.allowSymlinks)
    return [`${item.path} is a symlink (to '${target}'); the repository policy does not allow symlinks`];
  return [];
}
