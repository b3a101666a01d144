/** Thompson sampling: reproducible, exploring early, converging on the better agent; per context, and net of cost. */
import assert from 'node:assert/strict';
import {
  contextualChoose,
  hashSeed,
  posteriorMean,
  rankArms,
  rewardFor,
  sampleBeta,
  seededRandom,
  thompsonChoose,
  type ArmStats,
  type ContextArm,
} from '../../domain/bandit';
import { normaliseRepoPolicy } from '../../domain/repo-policy';
import {
  contextKey,
  costPenalty,
  netReward,
  NO_COST_WEIGHTS,
  routingContextOf,
  sizeClassOf,
} from '../../domain/routing-context';

describe('bandit', () => {
  it('the same inputs and seed give the same decision, in any candidate order', () => {
    const arms: ArmStats[] = [
      { agentId: 'a', successes: 3, failures: 2 },
      { agentId: 'b', successes: 1, failures: 1 },
      { agentId: 'c', successes: 0, failures: 0 },
    ];
    const one = thompsonChoose(arms, hashSeed('tenant/task-1'));
    const two = thompsonChoose([...arms].reverse(), hashSeed('tenant/task-1'));
    assert.deepEqual(one, two);
    const seeds = new Set(Array.from({ length: 30 }, (_, i) => thompsonChoose(arms, hashSeed(`task-${i}`)).chosen));
    assert.ok(seeds.size > 1, 'different tasks draw differently');
  });

  it('Beta samples have the right mean', () => {
    const rand = seededRandom(42);
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sampleBeta(3, 7, rand);
    assert.ok(Math.abs(sum / n - 0.3) < 0.01, `mean ${sum / n}`);
    let small = 0;
    for (let i = 0; i < n; i++) small += sampleBeta(0.5, 0.5, rand);
    assert.ok(Math.abs(small / n - 0.5) < 0.02);
  });

  it('prefers the agent with more success, but still explores an unknown one sometimes', () => {
    const arms: ArmStats[] = [
      { agentId: 'good', successes: 40, failures: 5 },
      { agentId: 'bad', successes: 5, failures: 40 },
      { agentId: 'new', successes: 0, failures: 0 },
    ];
    const picks = Array.from({ length: 500 }, (_, i) => thompsonChoose(arms, hashSeed(`t${i}`)));
    const count = (id: string) => picks.filter((p) => p.chosen === id).length;
    assert.ok(count('good') > 350, `good picked ${count('good')}`);
    assert.ok(count('bad') < 10, `bad picked ${count('bad')}`);
    assert.ok(count('new') > 5, `new picked ${count('new')}`);
    assert.ok(picks.filter((p) => p.chosen === 'new').every((p) => p.exploration));
    assert.ok(picks.filter((p) => p.chosen === 'good').every((p) => !p.exploration));
  });

  it('posterior mean and rewards', () => {
    assert.equal(posteriorMean({ agentId: 'x', successes: 0, failures: 0 }), 0.5);
    assert.equal(posteriorMean({ agentId: 'x', successes: 8, failures: 0 }), 0.9);
    assert.equal(rewardFor('PASS', 1, 3), 1);
    assert.equal(rewardFor('WAIVED', 0, 3), 1);
    assert.equal(rewardFor('FAIL', 2, 4), 0.125);
    assert.equal(rewardFor('FAIL', 0, 0), 0);
    assert.throws(() => thompsonChoose([], 1));
  });
});

describe('contextual, cost-aware routing', () => {
  const arm = (agentId: string, type: [number, number], context: [number, number] = [0, 0]): ContextArm => ({
    agentId,
    type: { successes: type[0], failures: type[1] },
    context: { successes: context[0], failures: context[1] },
  });

  it('tries every agent never tried on the task type first, in a seeded order', () => {
    const arms = [arm('veteran', [40, 2]), arm('new-1', [0, 0]), arm('new-2', [0, 0])];
    const picks = Array.from({ length: 200 }, (_, i) => contextualChoose(arms, hashSeed(`t${i}`)));
    assert.ok(
      picks.every((p) => p.chosen.startsWith('new-')),
      'an untried agent always first',
    );
    assert.ok(new Set(picks.map((p) => p.chosen)).size === 2, 'either untried one, by the seed');
    assert.ok(picks.every((p) => p.exploration));
    assert.deepEqual(contextualChoose(arms, 7), contextualChoose([...arms].reverse(), 7), 'order does not matter');
  });

  it('an untried agent with a task in flight has had its try: it goes first once at a time', () => {
    const arms = [arm('veteran', [40, 2]), { ...arm('busy-new', [0, 0]), running: 1 }];
    const picks = Array.from({ length: 100 }, (_, i) => contextualChoose(arms, hashSeed(`r${i}`)).chosen);
    assert.ok(picks.filter((p) => p === 'veteran').length > 60, 'no longer always first');
  });

  it("follows the context's own record over the task type's once it has one", () => {
    // `broad` is better on the task type overall; `narrow` is the one that passes in this context.
    const arms = [arm('broad', [60, 20], [1, 9]), arm('narrow', [40, 40], [9, 1])];
    const picks = Array.from({ length: 300 }, (_, i) => contextualChoose(arms, hashSeed(`c${i}`)).chosen);
    assert.ok(
      picks.filter((p) => p === 'narrow').length > 250,
      `narrow picked ${picks.filter((p) => p === 'narrow').length}`,
    );
  });

  it('leans on the task type where the context has no record yet', () => {
    const arms = [arm('good', [45, 5]), arm('poor', [5, 45])];
    const picks = Array.from({ length: 300 }, (_, i) => contextualChoose(arms, hashSeed(`p${i}`)).chosen);
    assert.ok(picks.filter((p) => p === 'good').length > 250);
  });

  it("keeps rankArms's first N and its exploration, for any arms and seed", () => {
    const rand = seededRandom(5);
    const int = (n: number) => Math.floor(rand() * n);
    for (let round = 0; round < 200; round++) {
      // Few distinct records, so equal means (and untried agents) are common.
      const arms = Array.from({ length: 1 + int(40) }, (_, i) => ({
        ...arm(`agent-${int(1000)}-${i}`, [int(3) * 5, int(3) * 5], [int(2), int(2)]),
        running: int(2),
      }));
      const seed = int(2 ** 32);
      const ranked = rankArms(arms, seed);
      const best = ranked.reduce((top, s) => (s.mean > top.mean ? s : top));
      for (const keep of [1, 3, 10]) {
        const choice = contextualChoose(arms, seed, keep);
        assert.deepEqual(choice.scores, ranked.slice(0, keep));
        assert.equal(choice.chosen, ranked[0].agentId);
        assert.equal(choice.exploration, ranked[0].agentId !== best.agentId);
      }
    }
  });

  it('ranks N distinct candidates, best first', () => {
    const arms = [arm('a', [30, 2]), arm('b', [2, 30]), arm('c', [20, 10]), arm('d', [0, 0])];
    const ranked = rankArms(arms, 11).map((s) => s.agentId);
    assert.equal(new Set(ranked).size, 4);
    assert.equal(ranked[0], 'd', 'the untried one first');
    assert.equal(ranked[ranked.length - 1], 'b');
  });

  it("rewards the verdict less the policy's cost term, never below zero; sizes and keys", () => {
    const usage = { tokens: 2_000_000, costUsd: 0.5, latencyMs: 120_000 };
    const weights = { perMillionTokens: 0.05, perUsd: 0.2, perMinute: 0.01 };
    assert.equal(netReward('PASS', { passed: 3, total: 3 }, usage, weights), 1 - (0.1 + 0.1 + 0.02));
    assert.equal(netReward('PASS', { passed: 3, total: 3 }, usage, NO_COST_WEIGHTS), 1);
    assert.equal(
      netReward('FAIL', { passed: 1, total: 4 }, usage, weights),
      0,
      'a failure that cost more than its credit is 0',
    );
    assert.equal(costPenalty({ tokens: 1e12, costUsd: 0, latencyMs: 0 }, weights), 1, 'at most a whole success');
    assert.deepEqual(
      ['small', 'medium', 'large'],
      [100, 1000, 1001].map((loc) => sizeClassOf(loc)),
    );
    assert.equal(contextKey({ taskType: 'fix', riskTier: 2, size: 'small' }), 'fix/tier-2/small');
    assert.equal(
      contextKey({ taskType: 'fix', riskTier: 2, size: 'small', language: 'python' }),
      'fix/tier-2/small/python',
    );
    const tiers = normaliseRepoPolicy(undefined).tiers;
    assert.deepEqual(routingContextOf({ mode: 'feature', riskTier: 1 }, { tiers }), {
      taskType: 'feature',
      riskTier: 1,
      size: 'medium',
    });
    assert.equal(routingContextOf({ mode: 'fix', riskTier: 3, changeBudget: { maxLoc: 20 } }, { tiers }).size, 'small');
    // A spec cannot claim a bigger context than its tier allows (tier 1: 250 lines).
    assert.equal(
      routingContextOf({ mode: 'fix', riskTier: 1, changeBudget: { maxLoc: 90_000 } }, { tiers }).size,
      'medium',
    );
  });

  it('only the trusted policy sets the cost term, within bounds', () => {
    const policy = normaliseRepoPolicy({ version: 1, arbiter: { routing_cost: { per_usd: 0.5 } } });
    assert.deepEqual(policy.routingCost, { perMillionTokens: 0, perUsd: 0.5, perMinute: 0 });
    assert.equal(normaliseRepoPolicy({ version: 1 }).routingCost, undefined);
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, arbiter: { routing_cost: { per_usd: -1 } } }),
      /routing_cost/,
    );
    assert.throws(
      () => normaliseRepoPolicy({ version: 1, arbiter: { routing_cost: { per_token: 1 } } }),
      /routing_cost/,
    );
  });
});
