/**
 * What a model call costs at its upstream's prices, and the request settings that would make it
 * cost more than those prices say. A cost budget is a ceiling the agent must not get past, so
 * where the reply does not say how a token was billed it is charged at the dearest rate it could be.
 */
import type { Pricing } from './agent';
import type { ModelUsage } from './model-usage';

/** Anthropic bills a cache write at 1.25 times the input price (five-minute entries) or 2 times (one-hour). */
const SHORT_WRITE_FACTOR = 1.25;
const LONG_WRITE_FACTOR = 2;

/** USD a call cost at the upstream's prices (0 when none are configured). */
export function costOf(usage: ModelUsage, pricing?: Pricing): number {
  if (!pricing) return 0;
  const { inputPerMillion: input, outputPerMillion: output, longContext } = pricing;
  const long = longContext && usage.inputTokens > longContext.aboveInputTokens;
  const inputFactor = long ? longContext.inputFactor : 1;
  const outputFactor = long ? longContext.outputFactor : 1;
  const cache = usage.cache ?? { read: 0, shortWrites: 0, longWrites: 0 };
  // Parts are counted within the input; a reply claiming more parts than input pays for the parts.
  const plain = Math.max(0, usage.inputTokens - cache.read - cache.shortWrites - cache.longWrites);
  const inputUsd =
    plain * input +
    cache.read * (pricing.cachedInputPerMillion ?? input) +
    cache.shortWrites * (pricing.cacheWritePerMillion ?? input * SHORT_WRITE_FACTOR) +
    cache.longWrites * (pricing.longCacheWritePerMillion ?? input * LONG_WRITE_FACTOR);
  return (inputUsd * inputFactor + usage.outputTokens * output * outputFactor) / 1e6;
}

/** `service_tier` values billed at the standard price or less; any other is a premium tier. */
const STANDARD_TIERS = new Set(['auto', 'default', 'flex', 'standard_only']);

/**
 * Why a request asks for faster, dearer serving than its upstream's prices, or undefined. Why:
 * OpenAI's `service_tier: "priority"` (or `"fast"`) and Anthropic's `speed: "fast"` bill the same
 * tokens at 2 to 6 times the price, and the reply's usage does not say so: the cost budget would
 * count a fraction of what the agent spent.
 */
export function premiumServingProblem(doc: Record<string, unknown>): string | undefined {
  const tier = doc.service_tier;
  if (tier != null && !(typeof tier === 'string' && STANDARD_TIERS.has(tier)))
    return `\`service_tier\` ${JSON.stringify(tier).slice(0, 100)} is billed above the upstream's prices (allowed: ${[...STANDARD_TIERS].join(', ')})`;
  if (doc.speed != null && doc.speed !== 'standard')
    return `\`speed\` ${JSON.stringify(doc.speed).slice(0, 100)} is billed above the upstream's prices (allowed: standard)`;
  return undefined;
}
