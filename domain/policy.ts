/**
 * Tier policy: default budgets and approver counts, and the effective change budget of a
 * spec. Pure: no I/O, no Node built-ins — workflow code imports it. A target repository's
 * `.caws/policy.yaml` is loaded elsewhere and passed in as `tierBudgets`.
 */
import type { PatchStats } from './diff';
import type { RiskTier, WorkingSpec } from './spec';

/** Re-exported so policy code (protected paths, scope checks) can detect prose without importing the spec validator. */
export { isPathGlob } from './spec-scope';

/** Why a named type: budgets travel between policy, specs and waivers and must mean the same thing everywhere (files changed, lines added plus removed). */
export interface ChangeBudget {
  maxFiles: number;
  maxLoc: number;
}

/** Why a record per tier: tier is the only knob that scales how much an agent may change and how many humans must sign off on an exception. */
export interface TierPolicy extends ChangeBudget {
  /** Bytes a change may add (every file counted, binary or not); binary files count only here. */
  maxBytes: number;
  /** Distinct approvers a waiver needs at this tier. */
  approvers: number;
}

/**
 * Why these numbers: they are DESIGN.md's defaults (which follow CAWS's own policy) and
 * apply whenever a repository has no `.caws/policy.yaml`. Frozen so a caller cannot widen
 * the defaults for everyone by mutating the shared object. The byte budgets are Arbiter's:
 * about twenty times what the line budget takes in ordinary source, so honest changes never
 * meet them and a file that hides its lines (one huge line, a binary blob) still does.
 */
export const DEFAULT_TIER_POLICY: Readonly<Record<RiskTier, Readonly<TierPolicy>>> = Object.freeze({
  1: Object.freeze({ maxFiles: 10, maxLoc: 250, maxBytes: 256 * 1024, approvers: 2 }),
  2: Object.freeze({ maxFiles: 100, maxLoc: 10000, maxBytes: 8 * 1024 * 1024, approvers: 1 }),
  3: Object.freeze({ maxFiles: 500, maxLoc: 40000, maxBytes: 32 * 1024 * 1024, approvers: 1 }),
});

/** Why exported: the waiver and routing code need the tier ceiling on its own, before any spec budget is applied. */
export function tierBudget(tier: RiskTier, tierBudgets?: Partial<Record<RiskTier, ChangeBudget>>): ChangeBudget {
  const override = tierBudgets?.[tier];
  const base = DEFAULT_TIER_POLICY[tier];
  return override
    ? { maxFiles: override.maxFiles, maxLoc: override.maxLoc }
    : { maxFiles: base.maxFiles, maxLoc: base.maxLoc };
}

/** Why exported: waiver approval must count distinct approvers against the same tier table the budgets use. */
export function requiredApprovers(tier: RiskTier, override?: Partial<Record<RiskTier, number>>): number {
  return override?.[tier] ?? DEFAULT_TIER_POLICY[tier].approvers;
}

/**
 * Why a spec cannot raise its own budget: the spec is written by whoever asks for the
 * change, the tier ceiling by policy, so a spec may only tighten it. Each dimension is
 * clamped separately; a clamped budget is still reported as `source: 'spec'` because the
 * spec did set it. Waiver deltas are added by the caller on top of this result.
 */
export function effectiveBudget(input: {
  spec: Pick<WorkingSpec, 'riskTier' | 'changeBudget'>;
  tierBudgets?: Partial<Record<RiskTier, ChangeBudget>>;
}): ChangeBudget & { source: 'spec' | 'tier' } {
  const ceiling = tierBudget(input.spec.riskTier, input.tierBudgets);
  const own = input.spec.changeBudget;
  if (!own) return { ...ceiling, source: 'tier' };
  return {
    maxFiles: Math.min(own.maxFiles, ceiling.maxFiles),
    maxLoc: Math.min(own.maxLoc, ceiling.maxLoc),
    source: 'spec',
  };
}

/**
 * Why a budget waiver's `delta` does not cover the overrun of the change it is for, measured when
 * its patch was stored, or undefined. Why: the workflow refuses a byte overrun and sizes the delta
 * it asks approvers for, and anyone who may write to the namespace can run workflow code that
 * skips the one and understates the other; storing the waiver passes the change's budget rows.
 */
export function uncoveredOverrun(
  stats: PatchStats,
  spec: Pick<WorkingSpec, 'riskTier' | 'changeBudget'>,
  policy: { tiers: Record<RiskTier, ChangeBudget & { maxBytes: number }> },
  delta: { maxFiles: number; maxLoc: number },
): string | undefined {
  const budget = effectiveBudget({ spec, tierBudgets: policy.tiers });
  const maxBytes = policy.tiers[spec.riskTier].maxBytes;
  if (stats.bytesAdded > maxBytes)
    return `the change adds ${stats.bytesAdded} bytes, over the byte budget of ${maxBytes}, which no waiver raises`;
  const files = stats.filesChanged - budget.maxFiles;
  const lines = stats.linesAdded + stats.linesDeleted - budget.maxLoc;
  if (files > delta.maxFiles || lines > delta.maxLoc)
    return `the change is ${Math.max(0, files)} files and ${Math.max(0, lines)} lines over its budget; the waiver raises it by ${delta.maxFiles} files and ${delta.maxLoc} lines`;
  return undefined;
}
