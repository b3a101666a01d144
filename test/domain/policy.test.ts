/** Tier policy: defaults, and a spec budget that can tighten but never widen the tier's. */
import assert from 'node:assert/strict';
import { DEFAULT_TIER_POLICY, effectiveBudget, isPathGlob, requiredApprovers, tierBudget } from '../../domain/policy';
import type { RiskTier, WorkingSpec } from '../../domain/spec';

function specAt(riskTier: RiskTier, changeBudget?: { maxFiles: number; maxLoc: number }): WorkingSpec {
  return {
    id: 'FEAT-1',
    title: 'A spec',
    riskTier,
    mode: 'feature',
    format: changeBudget ? 'legacy' : 'current',
    blastRadius: { modules: [], dataMigration: false },
    scope: { in: ['src/**'], out: [] },
    unenforceableScope: { in: [], out: [] },
    invariants: [],
    acceptance: [],
    nonFunctional: {},
    contracts: [],
    waiverIds: [],
    ...(changeBudget ? { changeBudget } : {}),
  };
}

describe('tier policy defaults', () => {
  it("matches DESIGN.md, with the README's byte budgets", () => {
    assert.deepEqual(DEFAULT_TIER_POLICY[1], { maxFiles: 10, maxLoc: 250, maxBytes: 256 * 1024, approvers: 2 });
    assert.deepEqual(DEFAULT_TIER_POLICY[2], { maxFiles: 100, maxLoc: 10000, maxBytes: 8 * 1024 * 1024, approvers: 1 });
    assert.deepEqual(DEFAULT_TIER_POLICY[3], {
      maxFiles: 500,
      maxLoc: 40000,
      maxBytes: 32 * 1024 * 1024,
      approvers: 1,
    });
    assert.equal(requiredApprovers(1), 2);
    assert.equal(requiredApprovers(3, { 3: 2 }), 2);
  });

  it('cannot be widened by mutation', () => {
    assert.throws(() => {
      (DEFAULT_TIER_POLICY[1] as { maxFiles: number }).maxFiles = 1000;
    });
    const copy = tierBudget(1);
    copy.maxFiles = 1000;
    assert.equal(tierBudget(1).maxFiles, 10);
  });
});

describe('effectiveBudget', () => {
  it('uses the tier budget when the spec has none', () => {
    assert.deepEqual(effectiveBudget({ spec: specAt(2) }), { maxFiles: 100, maxLoc: 10000, source: 'tier' });
    assert.deepEqual(effectiveBudget({ spec: specAt(1) }), { maxFiles: 10, maxLoc: 250, source: 'tier' });
  });

  it('uses a spec budget below the tier ceiling as given', () => {
    assert.deepEqual(effectiveBudget({ spec: specAt(2, { maxFiles: 40, maxLoc: 2500 }) }), {
      maxFiles: 40,
      maxLoc: 2500,
      source: 'spec',
    });
  });

  it('clamps each dimension of a spec budget to the tier and still reports spec', () => {
    assert.deepEqual(effectiveBudget({ spec: specAt(1, { maxFiles: 50, maxLoc: 100 }) }), {
      maxFiles: 10,
      maxLoc: 100,
      source: 'spec',
    });
    assert.deepEqual(effectiveBudget({ spec: specAt(2, { maxFiles: 200, maxLoc: 20000 }) }), {
      maxFiles: 100,
      maxLoc: 10000,
      source: 'spec',
    });
  });

  it('takes the tier ceiling from a repository policy override', () => {
    const tierBudgets = { 2: { maxFiles: 25, maxLoc: 1000 } };
    assert.deepEqual(effectiveBudget({ spec: specAt(2), tierBudgets }), { maxFiles: 25, maxLoc: 1000, source: 'tier' });
    assert.deepEqual(effectiveBudget({ spec: specAt(2, { maxFiles: 40, maxLoc: 500 }), tierBudgets }), {
      maxFiles: 25,
      maxLoc: 500,
      source: 'spec',
    });
    assert.deepEqual(effectiveBudget({ spec: specAt(3), tierBudgets }), {
      maxFiles: 500,
      maxLoc: 40000,
      source: 'tier',
    });
  });
});

describe('isPathGlob (prose detection)', () => {
  const paths = [
    'src/',
    'src/**/*.ts',
    '*.md',
    '.caws/',
    'CODEOWNERS',
    'packages/*/dist/',
    'a/b{c,d}/[x]y?.js',
    'docs/api/cli.md',
    'ünïcode/dir/',
  ];
  const prose = [
    'user authentication',
    'other monorepo packages',
    'TODO: list the file(s) or directories this spec authorizes.',
    'TODO:src',
    'https://example.com/x',
    '',
    '   ',
    'src/a b.ts',
    'KNOWN_DIRS is NOT modified.',
    '"quoted"',
    'a|b',
    'src/<id>.yaml',
  ];
  for (const p of paths) it(`treats ${JSON.stringify(p)} as a path`, () => assert.equal(isPathGlob(p), true));
  for (const p of prose) it(`treats ${JSON.stringify(p)} as prose`, () => assert.equal(isPathGlob(p), false));
});
