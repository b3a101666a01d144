/**
 * Paths no agent may change, whatever tool it uses: Arbiter's policy, CI configuration, hooks,
 * ownership and git plumbing, and what a repository adds (its setup's outputs and inputs, its
 * policy's `arbiter.protected`). The file tools refuse writes to Arbiter's own; the `protected` gate fails
 * any change to either in the measured diff, so a command that rewrites one is caught too.
 * Matching ignores case: a case-insensitive checkout (macOS, Windows) or a case-folding tool
 * would otherwise read `.GitHub/workflows` as the real thing.
 */
import picomatch from 'picomatch';
import type { RepoPolicy } from './repo-policy';
import { folded, scopeMatcher } from './scope-match';
import { globProblem, normaliseScopeEntry } from './spec-scope';

/** Protected at every tier. */
export const PROTECTED_PATHS = [
  '**/.git',
  '**/.git/**',
  '.caws/**',
  '.githooks/**',
  '.husky/**',
  '.github/workflows/**',
  '.github/actions/**',
  '.gitlab-ci.yml',
  '.gitlab-ci.yaml',
  '.gitlab/ci/**',
  // Forgejo and Gitea Actions run these on push, with the repository's secrets (found in review).
  '.gitea/workflows/**',
  '.gitea/actions/**',
  '.forgejo/workflows/**',
  '.forgejo/actions/**',
  '.woodpecker/**',
  '.woodpecker.yml',
  '.woodpecker.yaml',
  '.circleci/**',
  '.buildkite/**',
  '.travis.yml',
  '.drone.yml',
  '.drone.yaml',
  'azure-pipelines.yml',
  'azure-pipelines.yaml',
  '.azure-pipelines/**',
  'bitbucket-pipelines.yml',
  'appveyor.yml',
  '.appveyor.yml',
  '.cirrus.yml',
  '.semaphore/**',
  '.teamcity/**',
  '.tekton/**',
  'buildspec.yml',
  'cloudbuild.yaml',
  'cloudbuild.yml',
  'Jenkinsfile',
  // Run on a reviewer's machine or in a codespace with its secrets: on commit, on opening the folder, on building the container.
  '.pre-commit-config.yaml',
  // lefthook reads any of these forms, root or `.config/`, and runs its scripts folders.
  '{,.}lefthook{,-local}.{yml,yaml,toml,json,jsonc}',
  '.config/lefthook{,-local}.{yml,yaml,toml,json,jsonc}',
  '.lefthook/**',
  '.lefthook-local/**',
  '.overcommit.yml',
  '.vscode/tasks.json',
  // A trusted folder's settings name programs the editor starts itself (an interpreter, a linter, a terminal profile).
  '.vscode/settings.json',
  '*.code-workspace',
  '.zed/settings.json',
  // Coding agents a reviewer runs in the checkout: hooks they run, MCP servers they start.
  '.claude/settings.json',
  '.mcp.json',
  '.vscode/mcp.json',
  '.cursor/mcp.json',
  '.devcontainer/**',
  '.devcontainer.json',
  '.gitpod.yml',
  '**/CODEOWNERS',
  '**/.gitattributes',
  '**/.gitmodules',
  // Arbiter's own home: the CLI reads its keyring and stack there when run in this folder.
  '.arbiter/**',
];

/** Tier 1 also protects repository configuration and anything that can carry credentials. */
export const TIER1_PROTECTED_PATHS = ['.github/**', '**/.npmrc', '**/.env*'];

/** Protected globs in force at `riskTier`. */
export function protectedPaths(riskTier: number): string[] {
  return riskTier === 1 ? [...PROTECTED_PATHS, ...TIER1_PROTECTED_PATHS] : PROTECTED_PATHS;
}

/**
 * A matcher for the protected paths at `riskTier`, plus `extra` globs (the repository's own,
 * {@link repositoryProtectedGlobs}): dotfiles included, case ignored.
 */
export function protectedPathMatcher(riskTier: number, extra: readonly string[] = []): (path: string) => boolean {
  // A policy's own globs are a tenant's, kept to the scope grammar when it is read, and matched
  // without a regex as scope globs are; Arbiter's, and those it makes of setup outputs, are not.
  const theirs = extra.filter((g) => globProblem(g) === null);
  const ours = [...protectedPaths(riskTier), ...extra.filter((g) => globProblem(g) !== null)];
  // `s`: a regex's `.` (in `**`) takes no line break, and git takes names holding one.
  const isOurs = picomatch(ours, { dot: true, nocase: true, flags: 'is' });
  const isTheirs = scopeMatcher(theirs, { nocase: true, asFolded: true, outsideGrammar: true });
  const matches = (p: string) => isOurs(p) || isTheirs(p);
  return (path) => {
    const asFolded = folded(path);
    const asWindows = windowsForm(path);
    return (
      matches(path) ||
      (asFolded !== path && matches(asFolded)) ||
      (asWindows !== path && (matches(asWindows) || matches(folded(asWindows))))
    );
  };
}

/**
 * `path` as Windows reads it: each name without its trailing dots and spaces, so a checkout there
 * writes `.github./workflows/x.yml` as `.github/workflows/x.yml`. Names of dots alone are kept.
 */
function windowsForm(path: string): string {
  return path
    .split('/')
    .map((name) => name.replace(/[. ]+$/, '') || name)
    .join('/');
}

/**
 * A matcher for symlinks that would stand for a protected folder: `.github` linking to another
 * folder makes `.github/workflows/…` whatever that folder holds, written where no protected glob
 * looks. True for a protected glob's literal folder and each of its ancestors, case ignored.
 */
export function protectedFolderMatcher(riskTier: number, extra: readonly string[] = []): (path: string) => boolean {
  return globFolderMatcher([...protectedPaths(riskTier), ...extra]);
}

/**
 * True for each folder `globs` name and its ancestors, case ignored: the literal names before a
 * glob's first wildcard, and (for globs of the scope grammar) each leading run of its names,
 * wildcards included but for a bare `**`: `config/prod` stands for a folder of the glob
 * `config/<*>/secrets/**` written with a wildcard name (it did not, found in review).
 */
export function globFolderMatcher(globs: readonly string[]): (path: string) => boolean {
  const folders = new Set<string>();
  const prefixes: string[] = [];
  for (const glob of globs) {
    const literal: string[] = [];
    for (const segment of glob.split('/')) {
      if (/[*?[\]{}()!+@]/.test(segment)) break;
      literal.push(segment.toLowerCase());
      folders.add(literal.join('/'));
    }
    if (globProblem(glob) !== null) continue;
    const names = glob.split('/');
    for (let n = 1; n < names.length; n++)
      if (names.slice(0, n).some((name) => name !== '**')) prefixes.push(names.slice(0, n).join('/'));
  }
  const isPrefix = scopeMatcher(prefixes, { nocase: true, asFolded: true, outsideGrammar: false });
  return (path) => folders.has(path.toLowerCase()) || folders.has(folded(path).toLowerCase()) || isPrefix(path);
}

/**
 * What a setup reads unless its policy lists its inputs: the manifests, lockfiles and package
 * manager settings of npm, yarn, pnpm, Bun, Deno, pip (any `*requirements*` file: a setup's
 * `-r dev-requirements.txt` was missed, found in review), Poetry, uv, PDM, Pipenv, conda, Go,
 * Cargo, Bundler, Composer, Dart, Mix and NuGet's lock.
 */
export const DEFAULT_SETUP_INPUTS = [
  '**/package.json',
  '**/package-lock.json',
  '**/npm-shrinkwrap.json',
  '**/yarn.lock',
  '**/.yarnrc',
  '**/.yarnrc.yml',
  '**/pnpm-lock.yaml',
  '**/pnpm-workspace.yaml',
  '**/.pnpmfile.cjs',
  '**/.npmrc',
  '**/*requirements*.txt',
  '**/*requirements*.in',
  '**/*constraints*.txt',
  '**/pyproject.toml',
  '**/setup.py',
  '**/setup.cfg',
  '**/poetry.lock',
  '**/uv.lock',
  '**/Pipfile',
  '**/Pipfile.lock',
  '**/pip.conf',
  '**/requirements/**/*.txt',
  '**/poetry.toml',
  '**/uv.toml',
  '**/go.mod',
  '**/go.sum',
  '**/go.work',
  '**/go.work.sum',
  '**/.cargo/config',
  '**/.cargo/config.toml',
  '**/.bundle/config',
  '**/.yarn/releases/**',
  '**/.yarn/plugins/**',
  '**/.yarn/patches/**',
  '**/Cargo.toml',
  '**/Cargo.lock',
  '**/Gemfile',
  '**/Gemfile.lock',
  '**/composer.json',
  '**/composer.lock',
  '**/bun.lock',
  '**/bun.lockb',
  '**/bunfig.toml',
  '**/deno.json',
  '**/deno.jsonc',
  '**/deno.lock',
  '**/.pnp.cjs',
  '**/.pnp.loader.mjs',
  '**/pdm.lock',
  '**/pdm.toml',
  '**/environment.yml',
  '**/environment.yaml',
  '**/pubspec.yaml',
  '**/pubspec.lock',
  '**/mix.exs',
  '**/mix.lock',
  '**/packages.lock.json',
];

/**
 * The globs a repository adds to Arbiter's protected paths: what its setup produces (mounted
 * read-only for the agent and every gate), what its policy protects, and for the agent's `change`
 * what its setup reads (every gate runs with what setup installed from the base's, so a changed
 * lockfile would pass gates that never ran with it; the base's own are the ones they ran with).
 */
export function repositoryProtectedGlobs(
  policy: Pick<RepoPolicy, 'setup' | 'setupInputs' | 'protectedPaths'>,
  of: 'change' | 'base',
): string[] {
  const inputs = policy.setup && of === 'change' ? (policy.setupInputs ?? DEFAULT_SETUP_INPUTS) : [];
  return [...setupOutputGlobs(policy.setup?.outputs ?? []), ...inputs, ...(policy.protectedPaths ?? [])];
}

/**
 * Why anywhere in the tree: a `test/node_modules/<dep>` beside a test shadows the installed
 * dependency as surely as replacing it would, so no change may carry a folder of that name.
 */
function setupOutputGlobs(outputs: readonly string[]): string[] {
  return outputs.flatMap((o) => [`**/${o}`, `**/${o}/**`]);
}

/** One concrete path under each protected glob, to ask whether a scope reaches it. */
const PROTECTED_SAMPLES = [
  '.caws/policy.yaml',
  '.githooks/pre-commit',
  '.husky/pre-commit',
  '.github/workflows/ci.yml',
  '.github/settings.yml',
  '.gitlab-ci.yml',
  '.gitlab/ci/build.yml',
  '.gitea/workflows/ci.yml',
  '.forgejo/workflows/ci.yml',
  '.woodpecker/ci.yml',
  '.woodpecker.yml',
  '.circleci/config.yml',
  '.buildkite/pipeline.yml',
  '.travis.yml',
  '.drone.yml',
  'azure-pipelines.yml',
  '.azure-pipelines/ci.yml',
  'bitbucket-pipelines.yml',
  'appveyor.yml',
  '.cirrus.yml',
  '.semaphore/semaphore.yml',
  '.teamcity/settings.kts',
  '.tekton/pipeline.yaml',
  'buildspec.yml',
  'cloudbuild.yaml',
  'Jenkinsfile',
  '.pre-commit-config.yaml',
  // Kept to forms other samples already stand for (.yml, .json, no extension): one in `.toml` or
  // `.sh` would refuse a tier-1 scope of every such file, a Cargo.toml bump's among them.
  'lefthook.yml',
  '.lefthook.yml',
  'lefthook-local.yml',
  '.config/lefthook.yml',
  '.lefthook/pre-commit',
  '.lefthook-local/pre-commit',
  '.claude/settings.json',
  '.mcp.json',
  '.vscode/mcp.json',
  '.cursor/mcp.json',
  '.zed/settings.json',
  '.overcommit.yml',
  '.vscode/tasks.json',
  '.vscode/settings.json',
  'project.code-workspace',
  '.devcontainer/devcontainer.json',
  '.devcontainer.json',
  '.gitpod.yml',
  'CODEOWNERS',
  '.gitattributes',
  '.gitmodules',
  '.arbiter/trusted-keys',
  '.npmrc',
  '.env',
];

/**
 * The `scope.in` entries that reach a protected path at the repository root or inside a
 * protected folder, each with the first protected path it reaches. Entries that merely contain
 * a folder where a nested `.gitattributes` could live are not reported: every folder can.
 */
export function scopeReachingProtected(
  scopeIn: readonly string[],
  riskTier: number,
): Array<{ entry: string; path: string }> {
  const isProtected = protectedPathMatcher(riskTier);
  const samples = PROTECTED_SAMPLES.filter(isProtected);
  return scopeIn.flatMap((entry) => {
    const matches = scopeMatcher(normaliseScopeEntry(entry), { nocase: true, outsideGrammar: false });
    const hit = samples.find((p) => matches(p));
    return hit ? [{ entry, path: hit }] : [];
  });
}
