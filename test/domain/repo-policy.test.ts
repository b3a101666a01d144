/** CAWS repository policies: both corpus formats load; malformed ones are refused naming the field. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../client/paths';
import { DEFAULT_REPO_POLICY, InvalidPolicyError, normaliseRepoPolicy } from '../../domain/repo-policy';

const corpus = (file: string) => readFileSync(path.join(projectRoot(), 'test/fixtures/caws-corpus/policies', file), 'utf8');

describe('repository policy', () => {
  it('loads the current CAWS policy.yaml: budgets, gate modes, approvers', () => {
    const policy = normaliseRepoPolicy(parse(corpus('caws-head-policy.yaml')));
    assert.equal(policy.source, 'current');
    assert.deepEqual(policy.tiers, { 1: { maxFiles: 10, maxLoc: 250 }, 2: { maxFiles: 100, maxLoc: 10000 }, 3: { maxFiles: 500, maxLoc: 40000 } });
    assert.equal(policy.gateModes.budget, 'block');
    assert.equal(policy.gateModes.scope, 'block');
    assert.equal(policy.gateModes.spec, 'block');
    assert.equal(policy.gateModes.god_object, 'warn');
    assert.deepEqual(policy.waivers, { enabled: true, minApprovers: { 1: 2, 2: 2, 3: 2 }, windowHours: 24, maxExpiryDays: 90 });
    assert.deepEqual(policy.commands, []);
  });

  it('loads the legacy tier-policy.json', () => {
    const policy = normaliseRepoPolicy(JSON.parse(corpus('legacy-tier-policy.json')));
    assert.equal(policy.source, 'legacy');
    assert.deepEqual(policy.tiers, { 1: { maxFiles: 40, maxLoc: 1500 }, 2: { maxFiles: 25, maxLoc: 1000 }, 3: { maxFiles: 15, maxLoc: 600 } });
  });

  it('uses the defaults without a policy and for tiers a policy leaves out', () => {
    assert.deepEqual(normaliseRepoPolicy(undefined), DEFAULT_REPO_POLICY);
    const partial = normaliseRepoPolicy({ version: 1, risk_tiers: { '2': { max_files: 5, max_loc: 50 } }, gates: { scope_boundary: { enabled: false } } });
    assert.deepEqual(partial.tiers[2], { maxFiles: 5, maxLoc: 50 });
    assert.deepEqual(partial.tiers[1], { maxFiles: 10, maxLoc: 250 });
    assert.equal(partial.gateModes.scope, 'skip');
  });

  it('refuses a malformed policy, naming each field', () => {
    const bad = () => normaliseRepoPolicy({ risk_tiers: { '1': { max_files: -1, max_loc: 10 } }, gates: { budget_limit: { mode: 'sometimes' } } });
    assert.throws(bad, (err: unknown) => {
      assert.ok(err instanceof InvalidPolicyError);
      assert.ok(err.problems.some((p) => p.startsWith('risk_tiers.1.max_files: ')), err.problems.join('; '));
      assert.ok(err.problems.some((p) => p.startsWith('gates.budget_limit.mode: ')), err.problems.join('; '));
      return true;
    });
    assert.throws(() => normaliseRepoPolicy({ '1': { max_files: 1 }, '2': {}, '3': {} }), /1\.max_loc: Required/);
    assert.throws(() => normaliseRepoPolicy(['not', 'a', 'map']), /\(root\): must be a mapping/);
  });
});
