/**
 * The scope gate's own checks, on the pure function: a spec whose scope.in holds no enforceable
 * path glob cannot confirm any change is in scope, and says so (rather than listing every path
 * as "not in scope.in"); scope.out wins over scope.in; a base whose changes cannot be
 * known fails it. The first survived a mutation run of the
 * suite (issue #9).
 */
import assert from 'node:assert/strict';
import { scopeGate } from '../../domain/change-gates';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { worthRetrying } from '../../domain/retry-feedback';
import type { WorkingSpec } from '../../domain/spec';

const spec = (scopeIn: string[], scopeOut: string[] = []) =>
  ({ riskTier: 3, scope: { in: scopeIn, out: scopeOut } }) as unknown as WorkingSpec;
const file = (p: string) => ({ path: p, added: 1, deleted: 0, bytesAdded: 10 });

describe('scopeGate', () => {
  it('fails a change when scope.in has no enforceable path glob, naming that reason', () => {
    const gate = scopeGate(spec([]), [file('src/a.js')], DEFAULT_REPO_POLICY);
    assert.equal(gate.status, 'fail');
    assert.equal(gate.detail, 'scope.in has no enforceable path globs; cannot confirm any change is in scope');
  });

  it('passes an empty change even with no enforceable scope.in', () => {
    const gate = scopeGate(spec([]), [], DEFAULT_REPO_POLICY);
    assert.equal(gate.status, 'pass');
    assert.equal(gate.detail, '0 changed path(s) within scope');
  });

  it('fails a path inside both scope.in and scope.out, naming scope.out', () => {
    const gate = scopeGate(
      spec(['src/**'], ['src/secret/**']),
      [file('src/ok.js'), file('src/secret/x')],
      DEFAULT_REPO_POLICY,
    );
    assert.equal(gate.status, 'fail');
    assert.equal(gate.detail, 'out of scope: src/secret/x (matches scope.out)');
  });

  it('reads changed paths through the tree’s links: a change a link shows in scope.out fails, as does a link standing for it', () => {
    const link = (p: string, target: string) => ({ path: p, mode: '120000', target });
    const throughBase = scopeGate(
      spec(['src/**'], ['src/secret/**']),
      [file('src/internal/secret/key.js')],
      DEFAULT_REPO_POLICY,
      [],
      [link('src/secret', 'internal/secret')],
    );
    assert.equal(throughBase.status, 'fail');
    assert.equal(throughBase.detail, 'changed where src/secret shows a scope.out path: src/internal/secret/key.js');
    const own = scopeGate(
      spec(['src/**', 'config/**'], ['config/secrets/*']),
      [file('src/s/db.yml'), file('config/secrets')],
      DEFAULT_REPO_POLICY,
      [],
      [link('config/secrets', '../src/s')],
    );
    assert.equal(own.status, 'fail');
    assert.match(
      own.detail,
      /^symlink standing for a scope\.out folder: config\/secrets; changed where config\/secrets shows/,
    );
    const elsewhere = scopeGate(
      spec(['src/**'], ['src/secret/**']),
      [file('src/other/x.js')],
      DEFAULT_REPO_POLICY,
      [],
      [link('src/secret', 'internal/secret'), link('src/alias', 'other')],
    );
    assert.equal(elsewhere.status, 'pass', elsewhere.detail);
  });

  it('fails when what the base brings cannot be known, naming why and not calling the change in scope', () => {
    const unknown = { unknown: "the base abc cannot be compared with the trusted ref's commit def" };
    const gate = scopeGate(spec(['src/**']), [file('src/ok.js')], DEFAULT_REPO_POLICY, unknown);
    assert.equal(gate.status, 'fail');
    assert.equal(gate.detail, unknown.unknown);
    assert.equal(worthRetrying([gate]), false);
  });
});
