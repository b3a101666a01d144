/** Thompson sampling: reproducible, exploring early, converging on the better agent. */
import assert from 'node:assert/strict';
import {
  hashSeed,
  posteriorMean,
  rewardFor,
  sampleBeta,
  seededRandom,
  thompsonChoose,
  type ArmStats,
} from '../../domain/bandit';

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
