/**
 * Whether a write to a workspace-relative path is allowed: protected paths first (never
 * writable), then the spec's scope (`scope.out` excludes, `scope.in` must include).
 */
import { protectedPathMatcher } from '../../domain/protected-paths';
import type { SandboxPolicy } from '../../domain/sandbox';
import { scopeMatcher, type ScopeMatcher } from '../../domain/scope-match';

/** Scope lists compiled lately: a conversation checks every write against the same two. */
const compiled = new Map<string, ScopeMatcher>();
const MAX_COMPILED = 32;

function cachedMatcher(globs: readonly string[], exclusion: boolean): ScopeMatcher {
  const key = `${exclusion ? 'out' : 'in'}\0${globs.join('\0')}`;
  let matcher = compiled.get(key);
  if (!matcher) {
    matcher = scopeMatcher(globs, { nocase: exclusion, asFolded: exclusion, outsideGrammar: exclusion });
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, matcher);
  }
  return matcher;
}

/** The reason a write to `relative` is refused, or undefined when it is allowed. */
export function writeRefusal(relative: string, policy: SandboxPolicy): string | undefined {
  if (protectedPathMatcher(policy.riskTier)(relative)) return `'${relative}' is a protected path`;
  if (policy.scopeOut.length && cachedMatcher(policy.scopeOut, true)(relative))
    return `'${relative}' matches scope.out`;
  if (policy.scopeIn.length === 0) return 'scope.in has no enforceable path globs, so nothing is writable';
  if (!cachedMatcher(policy.scopeIn, false)(relative)) return `'${relative}' is not in scope.in`;
  return undefined;
}
