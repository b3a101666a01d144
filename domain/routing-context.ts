/**
 * What the router conditions on and what it learns from. A task's context is what is known of it
 * before any agent touches it (its kind, risk tier and size class); an outcome's reward is the
 * verdict's, less the cost term the repository's policy sets, so a cheaper agent that passes as
 * often is preferred. Pure: the routing activity and the feedback activity share it.
 */
import { z } from 'zod';
import { rewardFor } from './bandit';
import { TaskLanguageSchema } from './task-language';
import type { VerdictOutcome } from './task';

/** How big a change the spec allows: the size class routing tells apart. */
export type SizeClass = RoutingContext['size'];

/** What routing knows of a task: it learns and decides per context, backed by the task type. */
export const RoutingContextSchema = z
  .object({
    taskType: z.string().min(1).max(64),
    riskTier: z.number().int().min(1).max(3),
    size: z.enum(['small', 'medium', 'large']),
    /** When the submitter names it. */
    language: TaskLanguageSchema.optional(),
  })
  .strict();
/** A parsed routing context. */
export type RoutingContext = z.infer<typeof RoutingContextSchema>;

/** The size class of a change budget of `maxLoc` lines. */
export function sizeClassOf(maxLoc: number): SizeClass {
  if (maxLoc <= 100) return 'small';
  return maxLoc <= 1000 ? 'medium' : 'large';
}

/** The key a context's statistics are kept under. */
export function contextKey(c: RoutingContext): string {
  return `${c.taskType}/tier-${c.riskTier}/${c.size}${c.language ? `/${c.language}` : ''}`;
}

/** The policy's price of an agent's run, in reward: 1 is a whole success. All zero: routing ignores cost. */
export const CostWeightsSchema = z
  .object({
    perMillionTokens: z.number().min(0).max(1000),
    perUsd: z.number().min(0).max(1000),
    perMinute: z.number().min(0).max(1000),
  })
  .strict();
/** Parsed cost weights. */
export type CostWeights = z.infer<typeof CostWeightsSchema>;

/** Weights of a policy that sets none. */
export const NO_COST_WEIGHTS: CostWeights = { perMillionTokens: 0, perUsd: 0, perMinute: 0 };

/** What a run spent. */
export interface RunUsage {
  tokens: number;
  costUsd: number;
  latencyMs: number;
}

/** The cost term of `usage` under `w`, at most a whole success. */
export function costPenalty(usage: RunUsage, w: CostWeights): number {
  const raw =
    (usage.tokens / 1_000_000) * w.perMillionTokens +
    usage.costUsd * w.perUsd +
    (usage.latencyMs / 60_000) * w.perMinute;
  return Math.min(1, Math.max(0, raw));
}

/** The reward routing learns from: the verdict's (never the agent's own claim), less the cost term, never below 0. */
export function netReward(
  outcome: VerdictOutcome,
  gates: { passed: number; total: number },
  usage: RunUsage,
  w: CostWeights,
): number {
  return Math.max(0, rewardFor(outcome, gates.passed, gates.total) - costPenalty(usage, w));
}

/**
 * The context of a task with `spec` under `policy`: its mode, risk tier, the size class of its
 * change budget (the spec's own, else the policy's for its tier), and its language when named.
 */
export function routingContextOf(
  spec: { mode: string; riskTier: 1 | 2 | 3; changeBudget?: { maxLoc: number } },
  policy: { tiers: Record<1 | 2 | 3, { maxLoc: number }> },
  language?: RoutingContext['language'],
): RoutingContext {
  // The spec may ask for less than its tier allows, never more (the budget gate caps it the same way).
  const tierLoc = policy.tiers[spec.riskTier].maxLoc;
  const maxLoc = Math.min(spec.changeBudget?.maxLoc ?? tierLoc, tierLoc);
  return {
    taskType: spec.mode,
    riskTier: spec.riskTier,
    size: sizeClassOf(maxLoc),
    ...(language ? { language } : {}),
  };
}
