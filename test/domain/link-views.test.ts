/**
 * Reading changed paths through the tree's links (domain/link-views.ts), from a review of the
 * first version: repositories with links to the root in fixture folders failed every change, a
 * case-variant link on a guarding link's way passed, a ninth link was not read, and deep names or
 * long link names cost seconds (each now answers at once: the gates run inside a heartbeat).
 */
import assert from 'node:assert/strict';
import { protectedGate, scopeGate, specGate } from '../../domain/change-gates';
import { DEFAULT_REPO_POLICY, normaliseRepoPolicy } from '../../domain/repo-policy';
import type { WorkingSpec } from '../../domain/spec';
import type { TreeItem } from '../../domain/tree-rules';

const spec = (scopeIn: string[], scopeOut: string[] = []) =>
  ({ riskTier: 3, scope: { in: scopeIn, out: scopeOut } }) as unknown as WorkingSpec;
const file = (p: string) => ({ path: p, added: 1, deleted: 0, bytesAdded: 10 });
const link = (path: string, target: string): TreeItem => ({ mode: '120000', path, target });

describe('link views', () => {
  it("leaves alone a repository's links to the root in fixture folders, and a monorepo's links between packages", () => {
    const roots = [
      link('tests/fixtures/self', '../..'),
      link('docs/examples/repo', '../..'),
      link('e2e/root', '../..'),
    ];
    const files = Array.from({ length: 10 }, (_, i) => file(`src/module${i}/file${i}.ts`));
    assert.equal(protectedGate(3, files, [], {}, roots).status, 'pass');
    const scope = scopeGate(spec(['src/**'], ['tests/fixtures/**']), files, DEFAULT_REPO_POLICY, [], roots);
    assert.equal(scope.status, 'pass', scope.detail);
    const siblings: TreeItem[] = [];
    for (let p = 0; p < 10; p++)
      for (const d of [1, 2])
        siblings.push(link(`packages/p${p}/node_modules/p${(p + d) % 10}`, `../../p${(p + d) % 10}`));
    const changed = Array.from({ length: 10 }, (_, i) => file(`packages/p${i}/src/f${i}.ts`));
    assert.equal(protectedGate(3, changed, [], {}, siblings).status, 'pass');
  });

  it('sees a case-variant link on the way of a guarding link, and a change nine links deep', () => {
    const workflows = link('.github/workflows', '../build/wf');
    const viaCase = protectedGate(3, [file('BUILD')], [], {}, [workflows, link('BUILD', 'docs')]);
    assert.match(viaCase.detail, /changed where \.github\/workflows shows a protected path: build/);
    const secret = [link('src/secret', '../internal/secret'), link('INTERNAL', 'docs')];
    assert.equal(
      scopeGate(spec(['**'], ['src/secret/**']), [file('INTERNAL')], DEFAULT_REPO_POLICY, [], secret).status,
      'fail',
    );
    const chain = [
      link('.github/workflows', '../a9'),
      ...Array.from({ length: 9 }, (_, i) => link(`a${i + 1}/l`, `../a${i}`)),
    ];
    const deep = protectedGate(3, [file('a0/x.yml')], [], {}, chain);
    assert.match(deep.detail, /changed where \.github\/workflows shows a protected path: a0\/x\.yml/);
  });

  // Found in a second review: a wildcard name before the guarded folder, a changed name on the way of a
  // link inside a view, a package added to a monorepo of linked packages, thousands of links to the root.
  it('counts a link at a wildcard name, sees a change on the way of a link inside a view, and stays bounded', () => {
    const wildcard = protectedGate(
      3,
      [file('deploy/prod/secrets/key.pem')],
      [],
      { protectedPaths: ['config/*/secrets/**'] },
      [link('config/prod', '../deploy/prod')],
    );
    assert.match(wildcard.detail, /changed where config\/prod shows a protected path: deploy\/prod\/secrets\/key\.pem/);
    const chained = [
      link('.github/workflows', '../ci/wf'),
      link('ci/wf/shared', '../../lib/shared'),
      link('lib', 'tests/fixtures'),
    ];
    assert.match(
      protectedGate(3, [file('lib')], [], {}, chained).detail,
      /\.github\/workflows shows a protected path: lib/,
    );
    const siblings: TreeItem[] = [];
    for (let p = 0; p < 10; p++)
      for (const d of [1, 2])
        siblings.push(link(`packages/p${p}/node_modules/p${(p + d) % 10}`, `../../p${(p + d) % 10}`));
    const added = link('packages/p10/node_modules/p0', '../../p0');
    const changed = [file('packages/p10/package.json'), file(added.path), file('packages/p10/src/index.ts')];
    assert.equal(protectedGate(3, changed, [], {}, [...siblings, added]).status, 'pass');
    const toRoot = Array.from({ length: 4000 }, (_, i) => link(`l${i}`, '.'));
    assert.equal(
      protectedGate(
        3,
        toRoot.map((l) => file(l.path)),
        [],
        {},
        toRoot,
      ).status,
      'fail',
    );
  });

  it('answers deep names with no links, and links re-reading one long name, without reading them all again', () => {
    const deep = Array.from({ length: 1000 }, (_, i) => file(`src/${Array(1800).fill('a').join('/')}/f${i}`));
    assert.equal(scopeGate(spec(['src/**']), deep, DEFAULT_REPO_POLICY, [], []).status, 'pass');
    const long = [
      link('d/x', 'A'.repeat(4000)),
      ...Array.from({ length: 20_000 }, (_, i) => link(`d/y${i}`, Array(41).fill('x/..').join('/'))),
    ];
    const gate = protectedGate(
      3,
      long.map((l) => file(l.path)),
      [],
      {},
      long,
    );
    assert.match(gate.detail, /too many to read through each other/);
  });
});

describe('the spec gate and what a policy asks', () => {
  const legacy = normaliseRepoPolicy({
    '1': { max_files: 1, max_loc: 1 },
    '2': { max_files: 25, max_loc: 1000, requires_contracts: true, allowed_modes: ['feature'] },
    '3': { max_files: 1, max_loc: 1 },
  });

  it('takes no empty placeholder for a contract a tier requires', () => {
    const gate = specGate({ riskTier: 2, mode: 'feature', contracts: [{}] }, [], legacy);
    assert.equal(gate.status, 'fail');
    assert.match(gate.detail, /tier 2 requires a contract \(one that names something\)/);
  });

  // Found in review: a CAWS gate with no command was neither run nor named, and a PASS signed past it.
  // A policy entry with no command also sets the mode of a submitter's gate of that name, so it is named, not failed.
  it('names a policy gate Arbiter does not run as not enforced, in either mode', () => {
    for (const mode of ['block', 'warn']) {
      const policy = normaliseRepoPolicy({
        version: 1,
        risk_tiers: {},
        gates: { god_object: { enabled: true, mode } },
      });
      const gate = specGate({ riskTier: 3, mode: 'feature', contracts: [] }, [], policy);
      assert.equal(gate.status, 'warn', mode);
      assert.match(gate.detail, new RegExp(`not enforced by Arbiter: the policy's gate god_object \\(${mode}\\)`));
    }
  });
});
