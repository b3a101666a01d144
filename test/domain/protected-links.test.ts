/**
 * A symlink standing for a protected folder makes whatever folder it names protected in every
 * checkout: with `.github -> ci/gh`, `ci/gh/workflows/x.yml` is CI configuration. The link may be
 * the agent's, its base's (a submitter's `baseRef`) or already on the trusted ref; a change that
 * shows through it as a protected path fails the `protected` gate, however many links it takes.
 */
import assert from 'node:assert/strict';
import { protectedGate } from '../../domain/change-gates';
import type { TreeItem } from '../../domain/tree-rules';

const file = (path: string) => ({ path, added: 1, deleted: 0, bytesAdded: 10 });
const link = (path: string, target: string): TreeItem => ({ mode: '120000', path, target });

describe('domain: protected folders behind symlinks', () => {
  const cases: Array<[string, TreeItem[], string[], string[], RegExp]> = [
    [
      'a trusted .github -> ci/gh, the agent writing ci/gh/workflows/x.yml',
      [link('.github', 'ci/gh')],
      ['ci/gh/workflows/x.yml'],
      [],
      /changed where \.github shows a protected path: ci\/gh\/workflows\/x\.yml/,
    ],
    [
      '.github -> . (the root), the agent writing workflows/x.yml',
      [link('.github', '.')],
      ['workflows/x.yml'],
      [],
      /changed where \.github shows a protected path: workflows\/x\.yml/,
    ],
    [
      'a chain: .github -> a, a -> ci/gh',
      [link('.github', 'a'), link('a', 'ci/gh')],
      ['ci/gh/actions/run/action.yml'],
      [],
      /changed where \.github shows a protected path: ci\/gh\/actions\/run\/action\.yml/,
    ],
    [
      'a base bringing the link, the agent writing under its target',
      [link('.github', 'ci/gh')],
      ['ci/gh/workflows/x.yml'],
      ['.github'],
      /symlink standing for a protected folder: \.github.*changed where \.github shows a protected path/,
    ],
  ];
  for (const [name, links, changed, fromBase, pattern] of cases)
    it(`fails: ${name}`, () => {
      const gate = protectedGate(3, changed.map(file), fromBase, {}, links);
      assert.equal(gate.status, 'fail', gate.detail);
      assert.match(gate.detail, pattern);
    });

  it('passes changes that show through no such link, and links that stand for nothing protected', () => {
    const links = [link('.github', 'ci/gh'), link('docs', 'ci/gh')];
    const gate = protectedGate(3, [file('src/a.js'), file('ci/gh/README.md')], [], {}, links);
    assert.equal(gate.status, 'pass', gate.detail);
  });

  it("a setup's inputs fail the gate when the agent changed them (the usual manifests and lockfiles, unless the policy lists its own); none without a setup", () => {
    const setup = { argv: ['npm', 'ci'], outputs: ['node_modules'], registries: [], timeoutSeconds: 60 };
    const lock = [file('src/a.js'), file('packages/web/package-lock.json')];
    assert.match(
      protectedGate(3, lock, [], { setup }).detail,
      /protected path\(s\) changed: packages\/web\/package-lock\.json/,
    );
    // The base's lockfile is the one setup installed from, so every gate ran with it.
    assert.equal(protectedGate(3, [file('src/a.js')], ['go.sum'], { setup }).status, 'pass', 'a base of its own');
    assert.equal(protectedGate(3, [file('requirements/dev.txt')], [], { setup }).status, 'fail');
    // Read by setups the first list missed: `pip install -r dev-requirements.txt`, bun, conda (found in review).
    for (const p of ['dev-requirements.txt', 'requirements.in', 'svc/bun.lock', 'environment.yml', 'deno.lock'])
      assert.equal(protectedGate(3, [file(p)], [], { setup }).status, 'fail', p);
    assert.equal(protectedGate(3, lock, [], {}).status, 'pass', 'no setup, nothing installed from them');
    const listed = { setup, setupInputs: ['deps.lock'] };
    assert.equal(protectedGate(3, lock, [], listed).status, 'pass', 'the listed inputs replace the usual ones');
    assert.equal(protectedGate(3, [file('deps.lock')], [], listed).status, 'fail');
  });

  it("a repository policy's protected paths fail the gate for the agent's change, the base's and a link's", () => {
    const policy = { protectedPaths: ['test/**', '**/conftest.py'] };
    const own = protectedGate(3, [file('src/a.js'), file('Test/unit.test.js')], [], policy);
    assert.equal(own.status, 'fail');
    assert.match(own.detail, /protected path\(s\) changed: Test\/unit\.test\.js/);
    assert.match(
      protectedGate(3, [file('src/a.js')], ['pkg/conftest.py'], policy).detail,
      /the base changes protected/,
    );
    const linked = protectedGate(3, [file('spec/unit.test.js')], [], policy, [link('test', 'spec')]);
    assert.match(linked.detail, /changed where test shows a protected path: spec\/unit\.test\.js/);
    assert.equal(protectedGate(3, [file('src/a.js')], [], policy).status, 'pass');
    assert.equal(
      protectedGate(3, [file('test/unit.test.js')], [], {}).status,
      'pass',
      'without the policy, an ordinary path',
    );
  });

  it('a link on a protected path shows what it points at as protected: a folder inside, or a file', () => {
    const policy = { protectedPaths: ['test/**', 'conftest.py'] };
    const helpers = protectedGate(3, [file('src/testlib/x.js')], [], policy, [link('test/helpers', '../src/testlib')]);
    assert.match(helpers.detail, /changed where test\/helpers shows a protected path: src\/testlib\/x\.js/);
    const conftest = protectedGate(3, [file('tools/conftest.py')], [], policy, [
      link('conftest.py', 'tools/conftest.py'),
    ]);
    assert.match(conftest.detail, /changed where conftest\.py shows a protected path: tools\/conftest\.py/);
    const ci = protectedGate(3, [file('ci/ci.yml')], [], {}, [link('.github/workflows/ci.yml', '../../ci/ci.yml')]);
    assert.match(ci.detail, /changed where \.github\/workflows\/ci\.yml shows a protected path: ci\/ci\.yml/);
    const elsewhere = protectedGate(3, [file('src/other.js')], [], policy, [link('test/helpers', '../src/testlib')]);
    assert.equal(elsewhere.status, 'pass', elsewhere.detail);
  });

  it("fails, unmatched, a change too large to check against the repository's globs", () => {
    const policy = { protectedPaths: Array.from({ length: 400 }, (_, i) => `t${i}/**/*.py`) };
    const files = Array.from({ length: 1000 }, (_, i) => file(`${'d'.repeat(40)}/f${i}.js`));
    const gate = protectedGate(3, files, [], policy);
    assert.equal(gate.status, 'fail');
    assert.match(
      gate.detail,
      /the change names 1000 paths, too many and too long to check against the repository's 400 protected globs/,
    );
    assert.equal(protectedGate(3, files, [], {}).status, 'pass', "Arbiter's own globs alone are always matched");
  });
});
