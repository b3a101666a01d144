/**
 * What an agent may touch, as data: the spec's scope, the paths no agent may ever write, and
 * whether a shell is allowed. Derived from the spec so every tool call carries the same rules.
 */
import { z } from 'zod';
import type { WorkingSpec } from './spec';

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
  return {
    scopeIn: spec.scope.in,
    scopeOut: spec.scope.out,
    riskTier: spec.riskTier,
    allowShell: options.allowShell ?? false,
  };
}

/** Program names treated as shells. */
export const SHELLS = ['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'ash', 'busybox'];

/** A refused operation, as recorded and reported. */
export interface PolicyViolation {
  op: string;
  path: string;
  reason: string;
}
