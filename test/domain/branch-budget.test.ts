/**
 * The budget counts the delivered branch. Found in review: a tier-1 task based on a delivered
 * tier-3 branch of 20 files was signed a tier-1 PASS of one file; and, judged by the scope gate
 * first, a base's changes were counted twice where the agent changed the same file, and kept
 * waivers and retries away. Now the budget gate counts, for each path the base changed off the
 * trusted ref, the branch's change to it (from the merge base to the judged tree), and the agent's
 * change elsewhere; such a count is retried like any budget failure, and never waived.
 */
import assert from 'node:assert/strict';
import { budgetGate } from '../../domain/change-gates';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { worthRetrying } from '../../domain/retry-feedback';
import type { WorkingSpec } from '../../domain/spec';
import { waivable } from '../../workflows/waiver';
import { BASE_COUNTED } from '../../domain/waiver';

const tier1 = { riskTier: 1, scope: { in: ['src/**'], out: [] } } as unknown as WorkingSpec;
const file = (p: string, added = 1) => ({ path: p, added, deleted: 0, bytesAdded: 10 * added });

describe('budgetGate over a base off the trusted ref', () => {
  it("counts the branch: the base's files and the agent's, a file both changed once", () => {
    const base = Array.from({ length: 20 }, (_, i) => file(`src/big/f${i}.js`));
    const paths = base.map((f) => f.path);
    const over = budgetGate(tier1, [file('src/small.js')], DEFAULT_REPO_POLICY, [], [], { paths, changes: base });
    assert.equal(over.status, 'fail');
    assert.match(
      over.detail,
      /^21\/10 files, 21\/250 lines, 210\/262144 bytes \(budget from tier 1, default policy\); the delivered branch, with its base's changes off the trusted ref: 20 of its files the base's$/,
    );
    assert.equal(worthRetrying([over]), true, 'a smaller change of the agent’s may pass');
    assert.ok(over.detail.includes(BASE_COUNTED), 'named so that no waiver raises it');

    // The agent changed a file the base did: the branch's one change to it counts, once.
    const both = budgetGate(tier1, [file('src/big/f0.js', 5)], DEFAULT_REPO_POLICY, [], [], {
      paths: ['src/big/f0.js'],
      changes: [file('src/big/f0.js', 7)],
    });
    assert.match(both.detail, /^1\/10 files, 7\/250 lines/);
    // The agent put the base's change back: the branch changes nothing there.
    const reverted = budgetGate(tier1, [file('src/big/f0.js', 300)], DEFAULT_REPO_POLICY, [], [], {
      paths: ['src/big/f0.js'],
      changes: [],
    });
    assert.equal(reverted.status, 'pass', reverted.detail);
    assert.doesNotMatch(reverted.detail, /base's/);
  });

  it('counts the agent’s change alone on the trusted ref, where a waiver may raise it', () => {
    const own = Array.from({ length: 12 }, (_, i) => file(`src/f${i}.js`));
    const gate = budgetGate(tier1, own, DEFAULT_REPO_POLICY, []);
    assert.equal(gate.detail, '12/10 files, 12/250 lines, 120/262144 bytes (budget from tier 1, default policy)');
    assert.equal(waivable([gate]), true);
  });
});
