/**
 * Whether a write to a workspace-relative path is allowed: protected paths first (never
 * writable), then the spec's scope (`scope.out` excludes, `scope.in` must include).
 */
import picomatch from 'picomatch';
import { SCOPE_MATCH_OPTIONS } from '../../domain/spec-scope';
import { protectedPathMatcher } from '../../domain/protected-paths';
import type { SandboxPolicy } from '../../domain/sandbox';

/** The reason a write to `relative` is refused, or undefined when it is allowed. */
export function writeRefusal(relative: string, policy: SandboxPolicy): string | undefined {
  if (protectedPathMatcher(policy.riskTier)(relative)) return `'${relative}' is a protected path`;
  if (policy.scopeOut.length && picomatch(policy.scopeOut, { ...SCOPE_MATCH_OPTIONS, nocase: true })(relative))
    return `'${relative}' matches scope.out`;
  if (policy.scopeIn.length === 0) return 'scope.in has no enforceable path globs, so nothing is writable';
  if (!picomatch(policy.scopeIn, SCOPE_MATCH_OPTIONS)(relative)) return `'${relative}' is not in scope.in`;
  return undefined;
}
