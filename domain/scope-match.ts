/**
 * Matching paths against a spec's scope globs. Only globs inside the grammar `globProblem`
 * allows are compiled (picomatch, dotfiles included since CAWS specs routinely list `.caws/` and
 * `.github/`, extended globs off). A run validated before that grammar may still hold other
 * globs in its stored spec: those are never compiled, and stand for the answer that fails
 * closed (an allow-list entry admits nothing, an exclusion excludes everything).
 */
import picomatch from 'picomatch';
import { globProblem } from './spec-scope';

/** A compiled scope list: whether it matches a workspace-relative path. */
export type ScopeMatcher = (path: string) => boolean;

/**
 * A matcher for `globs`. `outsideGrammar` is what a glob outside the grammar answers:
 * `false` for an allow-list (`scope.in`), `true` for an exclusion list (`scope.out`).
 */
export function scopeMatcher(
  globs: readonly string[],
  options: { nocase?: boolean; outsideGrammar: boolean },
): ScopeMatcher {
  const safe = globs.filter((g) => globProblem(g) === null);
  if (safe.length < globs.length && options.outsideGrammar) return () => true;
  if (safe.length === 0) return () => false;
  return picomatch(safe, { dot: true, noextglob: true, nocase: options.nocase ?? false });
}
