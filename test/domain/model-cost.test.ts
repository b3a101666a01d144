/** What a model call costs at its upstream's prices, and the serving options that cost more than they say. */
import assert from 'node:assert/strict';
import { costOf, premiumServingProblem } from '../../domain/model-cost';

const PRICING = { inputPerMillion: 3, outputPerMillion: 15 };
const M = 1_000_000;

describe('model cost', () => {
  it('charges plain input and output at the upstream prices, and nothing without prices', () => {
    assert.equal(costOf({ inputTokens: M, outputTokens: M / 2 }, PRICING), 10.5);
    assert.equal(costOf({ inputTokens: 10, outputTokens: 10 }), 0);
  });

  it('charges cache writes above the input price and cache reads at the cached price, when given', () => {
    const usage = { inputTokens: 4 * M, outputTokens: 0, cache: { read: M, shortWrites: M, longWrites: M } };
    assert.equal(costOf(usage, PRICING), 3 + 3 + 3.75 + 6);
    const priced = { ...PRICING, cachedInputPerMillion: 0.3, cacheWritePerMillion: 4, longCacheWritePerMillion: 7 };
    assert.equal(costOf(usage, priced), 3 + 0.3 + 4 + 7);
    // A reply naming more cached tokens than input pays for what it names, never less.
    assert.equal(
      costOf({ inputTokens: 10, outputTokens: 0, cache: { read: 0, shortWrites: 0, longWrites: M } }, PRICING),
      6,
    );
  });

  it('scales the whole call by the long-context factors once its input passes the threshold', () => {
    const pricing = { ...PRICING, longContext: { aboveInputTokens: 200_000, inputFactor: 2, outputFactor: 1.5 } };
    assert.equal(costOf({ inputTokens: 200_000, outputTokens: 0 }, pricing), 0.6);
    assert.equal(costOf({ inputTokens: 200_001, outputTokens: M }, pricing), (200_001 * 3 * 2) / M + 15 * 1.5);
    const cached = { inputTokens: 300_000, outputTokens: 0, cache: { read: 0, shortWrites: 0, longWrites: 100_000 } };
    assert.equal(costOf(cached, pricing), ((200_000 * 3 + 100_000 * 6) * 2) / M);
  });

  it('finds the requests for premium serving, and lets the standard tiers pass', () => {
    for (const doc of [
      { service_tier: 'priority' },
      { service_tier: 'fast' },
      { service_tier: 'scale' },
      { service_tier: 'Auto' },
      { speed: 'fast' },
      { speed: 'ultrafast' },
      { speed: 1 },
    ])
      assert.match(premiumServingProblem(doc) ?? '', /is billed above the upstream's prices/, JSON.stringify(doc));
    for (const doc of [
      {},
      { service_tier: null, speed: null },
      { service_tier: 'auto' },
      { service_tier: 'flex', speed: 'standard' },
      { service_tier: 'standard_only' },
    ])
      assert.equal(premiumServingProblem(doc), undefined, JSON.stringify(doc));
  });
});
