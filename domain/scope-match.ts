/**
 * Matching paths against a spec's scope globs. Only globs inside the grammar `globProblem`
 * allows are matched (dotfiles included since CAWS specs routinely list `.caws/` and `.github/`).
 * A run validated before that grammar may still hold other globs in its stored spec: those are
 * never matched, and stand for the answer that fails closed (an allow-list entry admits nothing,
 * an exclusion excludes everything).
 *
 * The grammar's globs are matched here, not compiled to regexes (picomatch): a regex backtracks,
 * and globs of two wildcards in a name and a `**` (`a*a*` then `**` then `bX`), against names of
 * 254 characters, took picomatch 6 s of the main thread for 14
 * paths within the scope gate's work limit. Here a glob's names are aligned with the path's
 * (its one `**` takes whatever the names before and after it leave), and each name is matched
 * against one of the path's, so a path costs at most its length times the glob's.
 */
import { globProblem } from './spec-scope';

/** A compiled scope list: whether it matches a workspace-relative path. */
export type ScopeMatcher = (path: string) => boolean;

/** One glob split at its `**` name: the names before it, and after it when it has one. */
interface SplitGlob {
  head: string[];
  tail?: string[];
}

/** Code points a file system may ignore in a name (HFS+ does), and invisible in a review. */
const IGNORABLE =
  /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]/g;

/**
 * `path` as a case-folding file system may read it: in compatibility form (`ſ` as `s`, the Kelvin
 * sign as `K`, full-width dots), ignorable code points dropped, dotless and dotted `i` as `i`.
 */
export function folded(path: string): string {
  return path
    .normalize('NFKC')
    .replace(IGNORABLE, '')
    .replace(/[\u0131\u0130]/g, 'i');
}

/**
 * A matcher for `globs`. `outsideGrammar` is what a glob outside the grammar answers:
 * `false` for an allow-list (`scope.in`), `true` for an exclusion list (`scope.out`). With
 * `asFolded` (exclusion lists only: it widens), each glob also matches as {@link folded} reads it,
 * so a glob written in another normal form (Hangul as jamo, as macOS writes names) still excludes
 * the path a normalising file system takes for it (it did not, found in review).
 */
export function scopeMatcher(
  globs: readonly string[],
  options: { nocase?: boolean; asFolded?: boolean; outsideGrammar: boolean },
): ScopeMatcher {
  const safe = globs.filter((g) => globProblem(g) === null);
  if (safe.length < globs.length && options.outsideGrammar) return () => true;
  if (safe.length === 0) return () => false;
  const fold = options.nocase ? foldCase : (s: string) => s;
  const readings = options.asFolded ? [...new Set(safe.flatMap((g) => [g, folded(g)]))] : safe;
  const split = readings.map((g) => splitGlob(fold(g)));
  return (path) => {
    const names = fold(path).split('/');
    return split.some((g) => globMatches(g, names));
  };
}

/**
 * Case folded one UTF-16 unit at a time, as a regex's `i` flag without `u` folds (picomatch's):
 * to upper case where that is one unit, never from outside ASCII into it. Folding the whole
 * string to lower case depends on context (a final `Σ` becomes `ς`, `İ` two units), so an
 * exclusion written in capitals stopped matching the same name.
 */
export function foldCase(text: string): string {
  // ASCII folds as a whole: a name of 2,000 characters folded unit by unit, for thousands of links, cost seconds.
  if (/^[\x00-\x7f]*$/.test(text)) return text.toUpperCase();
  const out: string[] = [];
  for (const unit of text.split('')) {
    // Through lower case first: `ẞ` (U+1E9E) is `ß` lowered, and `ß` has no one-unit upper case.
    const lower = unit.toLowerCase();
    const base = lower.length === 1 && !crossesIntoAscii(unit, lower) ? lower : unit;
    const upper = base.toUpperCase();
    out.push(upper.length === 1 && !crossesIntoAscii(base, upper) ? upper : base);
  }
  return out.join('');
}

/** Whether case mapping took `from` outside ASCII to `to` inside it (the Kelvin sign to `k`). */
const crossesIntoAscii = (from: string, to: string) => from.charCodeAt(0) > 127 && to.charCodeAt(0) < 128;

function splitGlob(glob: string): SplitGlob {
  const names = glob.split('/');
  const at = names.indexOf('**');
  return at < 0 ? { head: names } : { head: names.slice(0, at), tail: names.slice(at + 1) };
}

function globMatches(glob: SplitGlob, names: string[]): boolean {
  const { head, tail } = glob;
  if (!tail) return names.length === head.length && head.every((g, i) => nameMatches(g, names[i]));
  const rest = names.length - head.length - tail.length;
  // As picomatch: a trailing `**` takes no name after one ending in `*` (`packages/*/**` is not `packages/README`).
  const least = tail.length === 0 && head.at(-1)?.endsWith('*') ? 1 : 0;
  return (
    rest >= least &&
    head.every((g, i) => nameMatches(g, names[i])) &&
    tail.every((g, i) => nameMatches(g, names[head.length + rest + i]))
  );
}

/**
 * Whether one name of a glob (`*` any run of characters, `?` any one, both within the name)
 * matches `name`: the classic walk that, on a mismatch, lets the last `*` take one more character.
 */
function nameMatches(glob: string, name: string): boolean {
  let g = 0;
  let n = 0;
  let star = -1;
  let taken = 0;
  while (n < name.length) {
    if (glob[g] === '*') {
      star = g++;
      taken = n;
    } else if (g < glob.length && (glob[g] === '?' || glob[g] === name[n])) {
      g++;
      n++;
    } else if (star >= 0) {
      g = star + 1;
      n = ++taken;
    } else return false;
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}
