/** What a change's tree may hold: gitlinks refused, symlinks only when allowed and never out of the tree. */
import assert from 'node:assert/strict';
import { scopeReachingProtected, protectedPathMatcher } from '../../domain/protected-paths';
import { scopeViolations } from '../../domain/change-gates';
import type { WorkingSpec } from '../../domain/spec';
import { treeProblems, type TreeItem } from '../../domain/tree-rules';

const link = (path: string, target: string): TreeItem => ({ mode: '120000', path, target });
const file = (path: string): TreeItem => ({ mode: '100644', path });
const all = (items: TreeItem[]) => new Set(items.map((i) => i.path));

describe('treeProblems', () => {
  it('refuses a gitlink, naming it', () => {
    const items = [file('a.js'), { mode: '160000', path: 'vendor/sub' }];
    assert.deepEqual(treeProblems(items, all(items), { allowSymlinks: true }), [
      'vendor/sub is a gitlink (submodule entry); submodules are refused',
    ]);
  });

  it('refuses symlinks unless allowed, and escaping ones always', () => {
    const inside = [file('src/a.js'), link('src/b.js', 'a.js')];
    assert.match(
      treeProblems(inside, all(inside), { allowSymlinks: false })[0],
      /src\/b\.js is a symlink .*does not allow symlinks/,
    );
    assert.deepEqual(treeProblems(inside, all(inside), { allowSymlinks: true }), []);
    for (const target of ['/etc/passwd', '../../x', '../..', 'a/../../..']) {
      const items = [link('src/leak', target)];
      assert.match(treeProblems(items, all(items), { allowSymlinks: true })[0], /outside the tree/, target);
    }
  });

  it('follows other links: a link through a link to the root, then up, escapes', () => {
    const items = [link('root', '.'), link('src/up', '../root/..')];
    assert.match(
      treeProblems(items, all(items), { allowSymlinks: true }).join(),
      /src\/up is a symlink to '..\/root\/..', outside the tree/,
    );
    const loop = [link('a', 'b'), link('b', 'a')];
    assert.equal(treeProblems(loop, all(loop), { allowSymlinks: true }).length, 2);
  });

  // Found in review: on a case-folding checkout (macOS, Windows) `a` is the link `A`.
  it('refuses a link that leaves the tree as a case-folding checkout reads names', () => {
    const items = [link('d/e/A', '../..'), link('d/e/b', 'a/../../x')];
    assert.match(
      treeProblems(items, all(items), { allowSymlinks: true }).join(),
      /d\/e\/b is a symlink to 'a\/..\/..\/x', outside the tree/,
    );
    const old = [link('d/e/A', '../..'), link('d/e/b', 'a/x')];
    assert.deepEqual(treeProblems(old, new Set(['d/e/A']), { allowSymlinks: true }), [], 'inside under both readings');
  });

  it('refuses a name or target that is not valid UTF-8, which no checkout could reproduce exactly', () => {
    const items = [{ mode: '100644', path: 'src/impl\uFFFD.js', exact: false }];
    assert.match(treeProblems(items, all(items), { allowSymlinks: true })[0], /not valid UTF-8/);
  });

  // Found in review: `src/secret./key.js` passed scope.out `src/secret/**`, and Windows writes it there.
  it('refuses a changed name ending in a dot or a space, which a Windows checkout writes without it', () => {
    const items = ['src/secret./key.js', 'src/a ', '.github./workflows/x.yml', 'src/x.'].map((p) => file(p));
    const problems = treeProblems(items, all(items), { allowSymlinks: true });
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems[0], /^src\/secret\.\/key\.js has a name ending in a dot or a space/);
    const fine = ['src/.hidden', 'src/a.b/c', 'src/..x'].map((p) => file(p));
    assert.deepEqual(treeProblems(fine, all(fine), { allowSymlinks: true }), []);
    const old = [file('legacy/odd.')];
    assert.deepEqual(treeProblems(old, new Set(), { allowSymlinks: true }), [], 'only what the change touched');
  });

  // Found in review: `src/SECRET~1/key.js` passed scope.out `src/secrets-prod/**`, `GITHUB~1/workflows/x.yml` the protected paths.
  it('refuses a changed name of the form of a Windows short (8.3) alias', () => {
    const items = [
      'src/SECRET~1/key.js',
      'GITHUB~1/workflows/x.yml',
      'src/APP~12.JS',
      'git~1/config',
      'src/~SECRE~1/key.js',
    ].map((p) => file(p));
    const problems = treeProblems(items, all(items), { allowSymlinks: true });
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(
      problems[0],
      /^src\/SECRET~1\/key\.js has a name of the form Windows gives a longer name's short alias/,
    );
    const fine = ['src/a~b.js', 'src/backup~', 'src/notes~1.markdown', 'src/longername~1', 'src/~1.js'].map((p) =>
      file(p),
    );
    assert.deepEqual(treeProblems(fine, all(fine), { allowSymlinks: true }), []);
  });

  it('judges only what the change touched', () => {
    const items = [link('old', '/usr/bin/env'), file('src/new.js')];
    assert.deepEqual(treeProblems(items, new Set(['src/new.js']), { allowSymlinks: false }), []);
  });

  // Found in review: only the changed entries were resolved, so an old link could be sent outside.
  it('refuses a changed link that takes an old one outside the tree, and leaves old ones it does not alone', () => {
    const items = [link('src/a', 'b/../../README.md'), link('src/b', '..'), link('old', '/usr/bin/env')];
    assert.deepEqual(treeProblems(items, new Set(['src/b']), { allowSymlinks: true }), [
      "src/a is a symlink to 'b/../../README.md', which the change to src/b takes outside the tree or into a loop",
    ]);
    const harmless = [link('src/a', 'b/x'), link('src/b', 'c'), link('old', '/usr/bin/env')];
    assert.deepEqual(treeProblems(harmless, new Set(['src/b']), { allowSymlinks: true }), []);
    // No link changed: the old link `c` became a folder, and `a -> c/../../x` now climbs out.
    const folder = [link('a', 'c/../../x'), file('c/keep'), file('x')];
    assert.deepEqual(treeProblems(folder, new Set(['c', 'c/keep']), { allowSymlinks: false }), [
      "a is a symlink to 'c/../../x', which the change to c takes outside the tree or into a loop",
    ]);
  });
});

describe('scope', () => {
  const spec = { scope: { in: ['src/**'], out: ['src/secret/**'] } } as unknown as WorkingSpec;

  it('scope.out ignores case; scope.in does not, so neither widens what may change', () => {
    assert.deepEqual(scopeViolations(spec, ['src/Secret/key.pem']), ['src/Secret/key.pem (matches scope.out)']);
    assert.deepEqual(scopeViolations(spec, ['SRC/app.js']), ['SRC/app.js (not in scope.in)']);
    assert.deepEqual(scopeViolations(spec, ['src/app.js']), []);
  });

  // Found in review: the protected paths read names so, scope.out only changed their case.
  it('scope.out reads a name as a case-folding file system may: compatibility forms, ignorable code points', () => {
    for (const p of ['src/\u017fecret/x.js', 'src/sec\u200cret/x.js', 'src/\uff53ecret/x.js', 'src/SECRET/x.js'])
      assert.deepEqual(scopeViolations(spec, [p]), [`${p} (matches scope.out)`], JSON.stringify(p));
    assert.deepEqual(scopeViolations(spec, ['src/secrets/x.js']), [], 'a different name is not excluded');
  });

  // Found in review: the globs were read as written, the paths folded.
  it('scope.out excludes a name however either side is written: another normal form, a capital sharp s', () => {
    const nfd = '\ube44\ubc00'.normalize('NFD'); // Hangul as jamo, as macOS writes names
    const jamo = { scope: { in: ['**'], out: [`${nfd}/**`] } } as unknown as WorkingSpec;
    for (const p of [`${nfd}/key`, '\ube44\ubc00/key'])
      assert.deepEqual(scopeViolations(jamo, [p]), [`${p} (matches scope.out)`], JSON.stringify(p));
    const strasse = { scope: { in: ['**'], out: ['docs/Stra\u00dfe/**'] } } as unknown as WorkingSpec;
    for (const p of ['docs/STRA\u00dfE/x', 'docs/STRA\u1e9eE/x'])
      assert.deepEqual(scopeViolations(strasse, [p]), [`${p} (matches scope.out)`], JSON.stringify(p));
  });

  it("counts a name's compatibility form in the work it bounds (U+FDFA is 18 characters in it)", () => {
    const many = { scope: { in: ['**'], out: Array.from({ length: 199 }, (_, i) => `**/*${i}*`) } };
    const paths = Array.from({ length: 43 }, (_, i) => `src/${'\ufdfa'.repeat(85)}/${i}`);
    assert.match(scopeViolations(many as unknown as WorkingSpec, paths)[0], /too many and too long to check/);
  });
});

describe('protected paths', () => {
  it('match at any depth where the design says so, ignoring case', () => {
    const tier3 = protectedPathMatcher(3);
    for (const p of [
      '.caws/policy.yaml',
      '.CAWS/Policy.yaml',
      '.GitHub/workflows/ci.yml',
      'src/CodeOwners',
      'a/b/.GITATTRIBUTES',
      'lib/.gitmodules',
      '.husky/pre-commit',
      'Jenkinsfile',
    ]) {
      assert.equal(tier3(p), true, p);
    }
    for (const p of ['src/app.js', '.github/settings.yml', 'src/.npmrc', 'docs/caws.md'])
      assert.equal(tier3(p), false, p);
    assert.equal(protectedPathMatcher(1)('.github/settings.yml'), true);
    assert.equal(protectedPathMatcher(1)('pkg/.env.local'), true);
    for (const p of ['.envrc', 'sub/.envrc', '.env-prod']) assert.equal(protectedPathMatcher(1)(p), true, p);
    assert.equal(tier3('.github/actions/setup/action.yml'), true, 'composite actions run in CI with its secrets');
  });

  it('match names holding a line break, and names a case-folding file system reads as protected', () => {
    const tier3 = protectedPathMatcher(3);
    for (const p of [
      '.github/workflows/deploy\u2028.yml',
      '.github/workflows/deploy\u2029.yml',
      '.github/workflows/a\nb.yml',
      '.github/workflows/a\rb.yml',
      'src/x\n/.gitattributes',
      '.caws/waivers/w\u2028.yaml',
      '.githooks/pre-commit\u2028',
      '.hu\u017Fky/pre-commit',
      '.github/wor\u212Aflows/x.yml',
      '\uFF0Egithub/workflows/x.yml',
      '.g\u0131thub/workflows/x.yml',
      '.git\u200chub/workflows/x.yml',
      '.hus\u00adky/pre-commit',
    ])
      assert.equal(tier3(p), true, JSON.stringify(p));
    assert.equal(protectedPathMatcher(3, ['generated/**'])('generated/a\nb'), true, "a policy's own glob too");
    assert.equal(tier3('src/a\nb.js'), false);
  });

  // Found in review: Forgejo's and Gitea's workflows were delivered with a PASS, and run on push with the secrets;
  // so were pre-commit, VS Code task and dev container files, which run on a reviewer's machine or in a codespace.
  it("match other forges' and services' CI configuration, and each name as Windows reads it", () => {
    const tier3 = protectedPathMatcher(3);
    for (const p of [
      '.forgejo/workflows/pwn.yml',
      '.gitea/workflows/pwn.yml',
      '.gitea/actions/setup/action.yml',
      '.woodpecker/pwn.yml',
      '.woodpecker.yml',
      '.gitlab/ci/deploy.yml',
      'appveyor.yml',
      '.cirrus.yml',
      '.semaphore/semaphore.yml',
      'cloudbuild.yaml',
      '.github./workflows/x.yml',
      '.github /workflows/x.yml',
      '.GitHub. ./workflows/x.yml',
      '.gitattributes.',
      'Jenkinsfile ',
      '.pre-commit-config.yaml',
      '.vscode/tasks.json',
      '.devcontainer/devcontainer.json',
      '.devcontainer.json',
      'lefthook.yml',
      '.lefthook-local.yaml',
      'lefthook.jsonc',
      '.config/lefthook-local.toml',
      '.lefthook-local/pre-commit/x.sh',
      '.zed/settings.json',
      '.claude/settings.json',
      '.mcp.json',
      '.vscode/mcp.json',
      '.cursor/mcp.json',
      '.lefthook/pre-push/check.sh',
      '.overcommit.yml',
      '.vscode/settings.json',
      'team.code-workspace',
      '.gitpod.yml',
    ])
      assert.equal(tier3(p), true, JSON.stringify(p));
    for (const p of [
      '.forgejo/README',
      '.gitea/ISSUE_TEMPLATE.md',
      'src/woodpecker.yml',
      'src/a.',
      '.vscode/launch.json',
      'docs/lefthook.yml.md',
    ])
      assert.equal(tier3(p), false, p);
    assert.deepEqual(scopeReachingProtected(['.forgejo/'], 3), [
      { entry: '.forgejo/', path: '.forgejo/workflows/ci.yml' },
    ]);
    // Each new one is warned of (refused at tier 1); no file type is refused for a sample's extension alone.
    for (const entry of [
      '.lefthook-local/',
      '.config/',
      '.claude/',
      '.zed/',
      '.cursor/',
      '.vscode/mcp.json',
      '.mcp.json',
    ])
      assert.equal(scopeReachingProtected([entry], 3).length, 1, entry);
    assert.deepEqual(scopeReachingProtected(['**/*.toml', '**/*.sh', 'src/**'], 1), []);
  });

  it('find the scope entries that reach a protected path', () => {
    assert.deepEqual(scopeReachingProtected(['src/**'], 3), []);
    assert.deepEqual(scopeReachingProtected(['src/**', '.caws/**'], 3), [
      { entry: '.caws/**', path: '.caws/policy.yaml' },
    ]);
    assert.equal(scopeReachingProtected(['**'], 3)[0].entry, '**');
    assert.deepEqual(scopeReachingProtected(['.github/**'], 3), [
      { entry: '.github/**', path: '.github/workflows/ci.yml' },
    ]);
  });
});
