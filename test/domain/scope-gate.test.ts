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
const link = (p: string, target: string) => ({ path: p, mode: '120000', target });
/** The scope gate over `paths` changed in a tree whose symlinks are `links`. */
const throughLinks = (scopeIn: string[], scopeOut: string[], paths: string[], links: ReturnType<typeof link>[]) =>
  scopeGate(spec(scopeIn, scopeOut), paths.map(file), DEFAULT_REPO_POLICY, [], links);

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
    const throughBase = throughLinks(
      ['src/**'],
      ['src/secret/**'],
      ['src/internal/secret/key.js'],
      [link('src/secret', 'internal/secret')],
    );
    assert.equal(throughBase.status, 'fail');
    assert.equal(throughBase.detail, 'changed where src/secret shows a scope.out path: src/internal/secret/key.js');
    const own = throughLinks(
      ['src/**', 'config/**'],
      ['config/secrets/*'],
      ['src/s/db.yml', 'config/secrets'],
      [link('config/secrets', '../src/s')],
    );
    assert.equal(own.status, 'fail');
    assert.match(
      own.detail,
      /^symlink standing for a scope\.out folder: config\/secrets; changed where config\/secrets shows/,
    );
    const elsewhere = throughLinks(
      ['src/**'],
      ['src/secret/**'],
      ['src/other/x.js'],
      [link('src/secret', 'internal/secret'), link('src/alias', 'other')],
    );
    assert.equal(elsewhere.status, 'pass', elsewhere.detail);
  });

  // Found in review of the above: a case variant, two links deep, a changed link on the guarding
  // link's way, a wildcard before the last name, and no bound on the work.
  it('reads through links as a case-folding checkout does, any number deep, and judges the links on the way', () => {
    const fails = (scopeIn: string[], scopeOut: string[], paths: string[], links: ReturnType<typeof link>[]) => {
      const gate = throughLinks(scopeIn, scopeOut, paths, links);
      assert.equal(gate.status, 'fail', JSON.stringify({ paths, links }));
      return gate.detail;
    };
    assert.match(
      fails(['src/**'], ['src/secret/**'], ['src/INTERNAL/secret/new.js'], [link('src/secret', 'internal/secret')]),
      /src\/secret shows a scope\.out path: src\/INTERNAL\/secret\/new\.js/,
    );
    const twoDeep = [link('src/secret', '../internal/secret'), link('internal/secret/shared', '../../shared')];
    assert.match(fails(['**'], ['src/secret/**'], ['shared/x.js'], twoDeep), /src\/secret shows .*: shared\/x\.js/);
    const repointed = [link('src/secret', '../internal/secret'), link('internal/secret', '../docs')];
    assert.match(
      fails(['src/**', 'internal/**'], ['src/secret/**'], ['internal/secret', 'internal/secret/key.js'], repointed),
      /src\/secret shows a scope\.out path: internal\/secret/,
    );
    assert.match(
      fails(
        ['src/**', 'config/**'],
        ['config/*/secrets.yml'],
        ['config/prod', 'src/p/secrets.yml'],
        [link('config/prod', '../src/p')],
      ),
      /config\/prod shows a scope\.out path: src\/p\/secrets\.yml/,
    );
  });

  it("leaves alone the repository's own link inside a scope.out folder, and bounds the work an agent's links make", () => {
    const fixture = throughLinks(
      ['src/**'],
      ['tests/fixtures/**'],
      ['src/a.js'],
      [link('tests/fixtures/self', '../..')],
    );
    assert.equal(fixture.status, 'pass', fixture.detail);
    const links = Array.from({ length: 100 }, (_, i) => link(`secret/l${i}`, '..'));
    const long = (i: number) => `src/${Array.from({ length: 19 }, () => 'a'.repeat(200)).join('/')}/f${i}`;
    const paths = [...links.map((l) => l.path), ...Array.from({ length: 400 }, (_, i) => long(i))];
    const flood = throughLinks(['src/**'], ['secret/**'], paths, links);
    assert.equal(flood.status, 'fail');
    assert.match(flood.detail, /too many to read through each other/);
  });

  it('fails when what the base brings cannot be known, naming why and not calling the change in scope', () => {
    const unknown = { unknown: "the base abc cannot be compared with the trusted ref's commit def" };
    const gate = scopeGate(spec(['src/**']), [file('src/ok.js')], DEFAULT_REPO_POLICY, unknown);
    assert.equal(gate.status, 'fail');
    assert.equal(gate.detail, unknown.unknown);
    assert.equal(worthRetrying([gate]), false);
  });
});
