/**
 * The scope matcher, matched without regexes: it answers as picomatch (dotfiles, case folding)
 * for every glob of the grammar, on thousands of random globs and paths; the spec a submitter
 * built to make picomatch backtrack (two wildcards in a name and a `**`, against 16 names of 254
 * characters: 12 s of the main thread for the scope gate, past the heartbeat timeout) is
 * answered at once; and exclusions written with a `.` name (`src/./secrets/`) still exclude.
 */
import assert from 'node:assert/strict';
import picomatch from 'picomatch';
import { protectedGate, scopeGate } from '../../domain/change-gates';
import { DEFAULT_REPO_POLICY, normaliseRepoPolicy } from '../../domain/repo-policy';
import { scopeMatcher } from '../../domain/scope-match';
import { validateWorkingSpec, type WorkingSpec } from '../../domain/spec';
import { globProblem } from '../../domain/spec-scope';

const file = (p: string) => ({ path: p, added: 1, deleted: 0, bytesAdded: 10 });

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function generator(seed: number) {
  let s = seed >>> 0;
  const next = (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  return (parts: string[], most: number) =>
    Array.from({ length: 1 + next(most) }, () => parts[next(parts.length)]).join('');
}

function validSpec(scope: Record<string, string[]>): WorkingSpec {
  const result = validateWorkingSpec({
    id: 'FEAT-1',
    title: 'scope',
    risk_tier: 3,
    mode: 'feature',
    blast_radius: { modules: [], data_migration: false },
    scope,
    invariants: ['x'],
    acceptance: [{ id: 'A1', given: 'g', when: 'w', then: 't' }],
    non_functional: {},
    contracts: [],
  });
  assert.ok(result.ok, JSON.stringify(result));
  return result.spec;
}

describe('scope matching', () => {
  // Except that case folding takes the capital sharp s for the small one (picomatch's regex does not: found in review).
  it('answers as picomatch for every glob of the grammar, with and without case folding', () => {
    const pick = generator(42);
    // Letters whose case folds by context or out of ASCII: Σ/σ/ς, İ, ß/ẞ, the Kelvin sign, ſ.
    const letters = ['a', 'b', 'A', 'é', 'É', 'Σ', 'σ', 'ς', 'İ', 'i', 'ß', 'ẞ', 'K', 'k', 'ſ', 's', 'S', '😀'];
    const globParts = [...letters, '.', '-', '*', '?', '/', '/**', '**/', '!', '@', '+', 'ab'];
    const pathParts = [...letters, '.', '-', '/', 'ab', '.a'];
    const fixed: Array<[string, string]> = [
      ['packages/*/**', 'packages/README'],
      ['*/**', 'x'],
      ['ab*/**', 'ab'],
      ['a?/**', 'ab'],
      ['a/**', 'a'],
      ['**/*.md', 'docs/a.md'],
      ['ΟΔΟΣ*', 'ΟΔΟΣΑ'],
      ['secret/?.txt', 'secret/İ.txt'],
    ];
    let compared = 0;
    const compare = (glob: string, path: string) => {
      for (const nocase of [false, true]) {
        const sharpS = (text: string) => (nocase ? text.replace(/\u1e9e/g, '\u00df') : text);
        const expected = picomatch(sharpS(glob), { dot: true, noextglob: true, nocase })(sharpS(path));
        const ours = scopeMatcher([glob], { nocase, outsideGrammar: false })(path);
        assert.equal(ours, expected, `${JSON.stringify(glob)} against ${JSON.stringify(path)}, nocase ${nocase}`);
        compared++;
      }
    };
    for (const [glob, path] of fixed) compare(glob, path);
    for (let i = 0; i < 60_000; i++) {
      const glob = pick(globParts, 6).replace(/\/{2,}/g, '/');
      const path = pick(pathParts, 7)
        .replace(/\/{2,}/g, '/')
        .replace(/^\/|\/$/g, '');
      // Scope entries are normalised first: no `.`, `..` or empty name reaches the matcher.
      if (globProblem(glob) !== null || !path || glob.split('/').some((n) => ['.', '..', ''].includes(n))) continue;
      if (path.split('/').some((name) => name === '.' || name === '..')) continue;
      compare(glob, path);
    }
    assert.ok(compared > 20_000, `${compared} comparisons`);
  });

  it('answers the globs built to backtrack at once, against paths of 16 names of 254 characters', function () {
    // picomatch took 9–12 s here; this matcher takes milliseconds.
    this.timeout(3_000);
    const spec = {
      riskTier: 3,
      scope: { in: Array.from({ length: 200 }, (_, i) => `a*a*/**/b${i}`), out: [] },
    } as unknown as WorkingSpec;
    const name = 'a'.repeat(254);
    const paths = Array.from({ length: 14 }, (_, i) => `${Array(16).fill(name).join('/')}${i}`);
    const gate = scopeGate(spec, paths.map(file), DEFAULT_REPO_POLICY, paths);
    assert.equal(gate.status, 'fail');
    assert.match(gate.detail, /^the base changes path\(s\) out of scope that are not on the trusted ref: a{254}\//);
  });

  it('an exclusion or a protected path written with a `.` name still holds', () => {
    const spec = validSpec({ in: ['src/'], out: ['src/./secrets/', 'src/keys/.'] });
    const scope = scopeGate(
      spec,
      [file('src/secrets/key.pem'), file('src/keys/id'), file('src/ok.js')],
      DEFAULT_REPO_POLICY,
    );
    assert.equal(
      scope.detail,
      'out of scope: src/secrets/key.pem (matches scope.out), src/keys/id (matches scope.out)',
    );
    const policy = normaliseRepoPolicy({
      version: 1,
      arbiter: { protected: ['test/./harness/', './test/fixtures/.'] },
    });
    const gate = protectedGate(3, [file('test/harness/run.sh'), file('test/fixtures/x')], [], policy);
    assert.equal(gate.status, 'fail');
    assert.match(gate.detail, /protected path\(s\) changed: test\/harness\/run\.sh, test\/fixtures\/x/);
  });

  // Arbiter makes `**/<output>/**` of each setup output, outside the scope grammar: matched as one
  // of the policy's globs, it stood for "everything" and every change of such a repository failed.
  it("a repository's setup outputs protect those folders alone", () => {
    const policy = normaliseRepoPolicy({
      version: 1,
      arbiter: { setup: { command: ['npm', 'ci'], outputs: ['node_modules'] }, protected: ['test/harness/'] },
    });
    const honest = protectedGate(3, [file('src/index.ts')], [], policy);
    assert.equal(honest.status, 'pass', honest.detail);
    const shadowed = protectedGate(3, [file('src/node_modules/dep/index.js'), file('test/harness/x')], [], policy);
    assert.match(shadowed.detail, /protected path\(s\) changed: src\/node_modules\/dep\/index\.js, test\/harness\/x/);
  });
});
