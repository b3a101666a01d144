/**
 * Attack: a spec that puts protected paths in scope, so a change to them looks sanctioned. At
 * tier 2/3 the `spec` gate warns, naming the protected path its scope reaches (the change to
 * the path itself still fails `protected`); at tier 1 the spec is REJECTED.
 */
import assert from 'node:assert/strict';
import { GOOD_PLAN } from '../helpers/fixtures';
import { assertNotDelivered, gateOf, runTask } from './helpers';

const CONTRACTS = { contracts: [{ name: 'feature-api', type: 'api' }] };

describe('governance: a scope reaching protected paths', function () {
  this.timeout(120_000);

  const warned: Array<[number, string[], RegExp]> = [
    [3, ['.caws/', 'src/'], /\.caws/],
    [3, ['**'], /\.caws\/|\.git/],
    [2, ['.github/', 'src/'], /\.github/],
  ];
  for (const [tier, scopeIn, names] of warned) {
    it(`tier ${tier}, scope.in ${JSON.stringify(scopeIn)}: the spec gate warns naming the protected path`, async () => {
      const r = await runTask({
        files: { 'src/app.js': 'module.exports = 1;\n' },
        spec: { risk_tier: tier, scope: { in: scopeIn, out: [] }, ...CONTRACTS },
        steps: GOOD_PLAN,
      });
      const spec = gateOf(r.final, 'spec');
      assert.equal(spec.status, 'warn', spec.detail);
      assert.match(spec.detail, /protected/);
      assert.match(spec.detail, names);
      assert.equal(spec.source, 'arbiter');
      assert.equal(r.final.state, 'COMPLETED', 'a warning does not block an honest change');
    });
  }

  const rejected: Array<[string[], RegExp]> = [
    [['.caws/', 'src/'], /\.caws/],
    [['**'], /\.caws\/|\.git/],
    [['src/', '.github/'], /\.github/],
    [['src/', '.npmrc'], /\.npmrc/],
  ];
  for (const [scopeIn, names] of rejected) {
    it(`tier 1, scope.in ${JSON.stringify(scopeIn)}: REJECTED, the problem names the protected path`, async () => {
      const r = await runTask({
        files: { 'src/app.js': 'module.exports = 1;\n' },
        spec: { risk_tier: 1, scope: { in: scopeIn, out: [] }, ...CONTRACTS },
        steps: GOOD_PLAN,
      });
      assert.equal(r.final.state, 'REJECTED', JSON.stringify({ error: r.final.error, gates: r.final.gates }));
      assert.equal(r.final.error?.type, 'SpecInvalidError');
      const problems = r.final.error?.problems ?? [];
      const hit = problems.filter((p) => /protected/.test(p));
      assert.ok(hit.length > 0, `a problem mentions protected paths: ${problems.join('\n')}`);
      assert.ok(
        hit.some((p) => names.test(p)),
        `the problem names the path: ${hit.join('\n')}`,
      );
      assert.equal(r.final.verdict, null, 'a rejected spec gets no verdict');
      assertNotDelivered(r);
    });
  }

  it('control: tier 1 with a scope of src/ only is accepted and completes', async () => {
    const r = await runTask({
      files: { 'src/app.js': 'module.exports = 1;\n' },
      spec: { risk_tier: 1, ...CONTRACTS },
      steps: GOOD_PLAN,
    });
    assert.equal(r.final.state, 'COMPLETED', JSON.stringify({ error: r.final.error, gates: r.final.gates }));
    assert.equal(gateOf(r.final, 'spec').status, 'pass');
  });
});
