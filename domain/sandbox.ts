/**
 * What an agent may touch, as data: the spec's scope, the paths no agent may ever write, and
 * whether a shell is allowed. Derived from the spec so every tool call carries the same rules.
 */
import { z } from 'zod';
import type { WorkingSpec } from './spec';

/** Paths no agent writes at any tier: git internals and hooks, Arbiter's policy, CI configuration. */
export const PROTECTED_PATHS = [
  '.git',
  '.git/**',
  '**/.git',
  '**/.git/**',
  '.githooks/**',
  '.husky/**',
  '.caws/policy.yaml',
  '.caws/policy.yml',
  '.github/workflows/**',
  '.gitlab-ci.yml',
  '.circleci/**',
  '.buildkite/**',
  '.travis.yml',
  '.drone.yml',
  'azure-pipelines.yml',
  'bitbucket-pipelines.yml',
  'Jenkinsfile',
];

/** Tier 1 also protects repository plumbing and anything that can carry credentials or ownership. */
export const TIER1_PROTECTED_PATHS = [
  '.github/**',
  '.caws/**',
  '.gitattributes',
  '.gitmodules',
  '.npmrc',
  '**/.npmrc',
  '.env',
  '.env.*',
  '**/.env',
  '**/.env.*',
  'CODEOWNERS',
  '**/CODEOWNERS',
];

/** Rules every file tool and command of one task runs under. */
export const SandboxPolicySchema = z.object({
  scopeIn: z.array(z.string()),
  scopeOut: z.array(z.string()),
  riskTier: z.number().int().min(1).max(3),
  /** Commands whose program is a shell (`sh -c …`) are refused unless this is set. */
  allowShell: z.boolean().default(false),
});
/** Parsed sandbox policy. */
export type SandboxPolicy = z.output<typeof SandboxPolicySchema>;

/** The policy a task's agent works under. */
export function policyFromSpec(spec: WorkingSpec, options: { allowShell?: boolean } = {}): SandboxPolicy {
  return { scopeIn: spec.scope.in, scopeOut: spec.scope.out, riskTier: spec.riskTier, allowShell: options.allowShell ?? false };
}

/** Protected globs in force at `riskTier`. */
export function protectedPaths(riskTier: number): string[] {
  return riskTier === 1 ? [...PROTECTED_PATHS, ...TIER1_PROTECTED_PATHS] : PROTECTED_PATHS;
}

/** Program names treated as shells. */
export const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'ash', 'busybox'];

/** A refused operation, as recorded and reported. */
export interface PolicyViolation {
  op: string;
  path: string;
  reason: string;
}
