/**
 * Arbiter's own gates over a measured change: budget, scope, spec, protected paths and the
 * tree's shape. Pure: the activity measures the tree and hands the facts in, so each rule can
 * be read (and tested) on its own. `protected` and `tree` ignore the policy's gate modes: the
 * repository may relax its own checks, not the rules that keep the verdict meaningful.
 */
import { effectiveBudget } from './policy';
import { folded, protectedFolderMatcher, protectedPathMatcher, repositoryProtectedGlobs } from './protected-paths';
import { scopeMatcher } from './scope-match';
import type { RepoPolicy } from './repo-policy';
import type { WorkingSpec } from './spec';
import type { GateResult } from './task';
import { linkResolver, treeProblems, type TreeItem } from './tree-rules';
import { printable } from './printable';
import { applyGateMode } from './verdict';
import { BASE_OUT_OF_SCOPE, BASE_PROTECTED_CHANGES } from './retry-feedback';

/** A changed file as the gates read it. */
export interface MeasuredFile {
  path: string;
  added: number;
  deleted: number;
  bytesAdded: number;
}

/** A waiver the spec names that is active: its delta raises the budget. */
export interface GrantedWaiver {
  id: string;
  maxFiles: number;
  maxLoc: number;
}

const MAX_LISTED = 20;

function listed(paths: readonly string[]): string {
  const shown = paths.slice(0, MAX_LISTED).map(printable).join(', ');
  return paths.length > MAX_LISTED ? `${shown} and ${paths.length - MAX_LISTED} more` : shown;
}

function arbiterGate(name: GateResult['kind'], status: GateResult['status'], detail: string): GateResult {
  return { name, kind: name, source: 'arbiter', status, detail: detail.slice(0, 4000) };
}

/**
 * Path characters times scope globs the scope gate matches at most. The agent chooses how many
 * paths a change has and how long (4,096 characters), the submitter how many globs: 50 crafted
 * paths against 200 crafted globs took 7.5 s of the main thread. The most a spec may have (200
 * entries, 400 globs) against 500 files of 60 characters is 12 million; past it the gate fails.
 */
const MAX_SCOPE_WORK = 12_000_000;

/** The characters matched for a name: itself, and its folded reading where that differs. */
function foldedWork(name: string, asFolded: string): number {
  return name.length + (asFolded === name ? 0 : asFolded.length);
}

/**
 * Names every changed path outside `scope.in` or inside `scope.out`. `scope.out` reads a path as
 * a case-folding file system may (on such a checkout `src/Secret`, `src/ſecret` and `src/sec`
 * with a zero-width joiner inside `ret` are `src/secret`), as the protected paths do; `scope.in`
 * does not, so neither reading widens what may change.
 */
export function scopeViolations(spec: WorkingSpec, paths: string[]): string[] {
  const globs = spec.scope.in.length + spec.scope.out.length;
  // A name is matched as named and, where that differs, as a case-folding file system reads it, which
  // may be far longer (U+FDFA is 18 characters): both are counted.
  const read = paths.map((p) => ({ p, asFolded: folded(p) }));
  const work = read.reduce((n, r) => n + foldedWork(r.p, r.asFolded), 0) * globs;
  if (work > MAX_SCOPE_WORK)
    return [`the change names ${paths.length} paths, too many and too long to check against ${globs} scope globs`];
  const inScope = scopeMatcher(spec.scope.in, { outsideGrammar: false });
  const outOfScope = scopeMatcher(spec.scope.out, { nocase: true, outsideGrammar: true });
  return read.flatMap(({ p, asFolded }) => {
    if (outOfScope(p) || (asFolded !== p && outOfScope(asFolded))) return [`${p} (matches scope.out)`];
    if (!inScope(p)) return [`${p} (not in scope.in)`];
    return [];
  });
}

/** Files, lines (every file read as text) and added bytes against the effective budget. */
export function budgetGate(
  spec: WorkingSpec,
  files: readonly MeasuredFile[],
  policy: RepoPolicy,
  granted: readonly GrantedWaiver[],
  refused: readonly string[] = [],
): GateResult {
  const base = effectiveBudget({ spec, tierBudgets: policy.tiers });
  const budget = granted.reduce(
    (b, w) => ({ ...b, maxFiles: b.maxFiles + w.maxFiles, maxLoc: b.maxLoc + w.maxLoc }),
    base,
  );
  const maxBytes = policy.tiers[spec.riskTier].maxBytes;
  const lines = files.reduce((n, f) => n + f.added + f.deleted, 0);
  const bytes = files.reduce((n, f) => n + f.bytesAdded, 0);
  const ok = files.length <= budget.maxFiles && lines <= budget.maxLoc && bytes <= maxBytes;
  const from = budget.source === 'spec' ? 'spec' : `tier ${spec.riskTier}, ${policy.source} policy`;
  const waived = granted.length ? `, raised by waiver(s) ${granted.map((w) => w.id).join(', ')}` : '';
  const notUsed = refused.length ? `; waiver(s) refused: ${refused.join('; ')}` : '';
  const detail = `${files.length}/${budget.maxFiles} files, ${lines}/${budget.maxLoc} lines, ${bytes}/${maxBytes} bytes (budget from ${from}${waived})${notUsed}`;
  return arbiterGate('budget', applyGateMode(ok, policy.gateModes.budget), detail);
}

/**
 * What a task's base changed since it left the trusted ref: the paths, or why they cannot be known
 * (a base that shares no history with it), in which case no gate that judges them can pass.
 */
export type BaseDrift = readonly string[] | { unknown: string };

/**
 * Every path the delivered branch changes against the trusted ref inside `scope.in` and outside
 * `scope.out`: the agent's changes, and those of its base off the trusted ref (`fromBase`), which
 * the branch carries too (a submitter's `baseRef` may name any commit the repository holds).
 */
export function scopeGate(
  spec: WorkingSpec,
  files: readonly MeasuredFile[],
  policy: RepoPolicy,
  drift: BaseDrift = [],
): GateResult {
  const fromBase = 'unknown' in drift ? [] : drift;
  const mode = policy.gateModes.scope;
  if (spec.scope.in.length === 0 && files.length + fromBase.length > 0) {
    return arbiterGate(
      'scope',
      applyGateMode(false, mode),
      'scope.in has no enforceable path globs; cannot confirm any change is in scope',
    );
  }
  const own = scopeViolations(
    spec,
    files.map((f) => f.path),
  );
  const base = fromBase.length ? scopeViolations(spec, [...fromBase]) : [];
  const problems = [
    ...('unknown' in drift ? [drift.unknown] : []),
    ...(base.length ? [`${BASE_OUT_OF_SCOPE}: ${listed(base)}`] : []),
    ...(own.length ? [`out of scope: ${listed(own)}`] : []),
  ];
  const fromBaseNote = fromBase.length ? `, and ${fromBase.length} the base changes off the trusted ref` : '';
  const detail = problems.length ? problems.join('; ') : `${files.length} changed path(s) within scope${fromBaseNote}`;
  return arbiterGate('scope', applyGateMode(problems.length === 0, mode), detail);
}

/** The spec's warnings as evidence; validation already rejected invalid specs, so this never blocks. */
export function specGate(warnings: readonly string[], policy: RepoPolicy): GateResult {
  if (policy.gateModes.spec === 'skip') return arbiterGate('spec', 'skipped', 'skipped by the repository policy');
  const detail = warnings.length
    ? `valid, with ${warnings.length} warning(s): ${warnings.join('; ')}`
    : 'valid and complete';
  return arbiterGate('spec', warnings.length ? 'warn' : 'pass', detail);
}

/**
 * Problems of the tree's symlinks on a protected path or standing for a protected folder
 * (`.github -> ci/gh`), wherever they came from (the agent, the base, the trusted ref): one the
 * change or its base made, and any changed path that a checkout shows through such a link as a
 * protected one (`ci/gh/workflows/x.yml` is `.github/workflows/x.yml`; with `test/lib -> ../lib`
 * or `conftest.py -> tools/conftest.py` protected, `lib/x.js` and `tools/conftest.py` are too).
 */
function protectedLinkProblems(
  links: readonly TreeItem[],
  matchers: { isProtected: (path: string) => boolean; standsForProtected: (path: string) => boolean },
  touched: readonly string[],
): string[] {
  const made = new Set(touched);
  const resolve = linkResolver(links);
  return links
    .filter((l) => matchers.isProtected(l.path) || matchers.standsForProtected(l.path))
    .flatMap((link) => {
      const target = resolve(link);
      const seen = (p: string, t: string) =>
        p === t
          ? link.path
          : t === ''
            ? `${link.path}/${p}`
            : p.startsWith(`${t}/`)
              ? link.path + p.slice(t.length)
              : '';
      const shown =
        target === undefined ? [] : touched.filter((p) => p !== link.path && matchers.isProtected(seen(p, target)));
      return [
        // A link on a protected path itself is already named as a protected change.
        ...(made.has(link.path) && !matchers.isProtected(link.path)
          ? [`symlink standing for a protected folder: ${link.path}`]
          : []),
        ...(shown.length ? [`changed where ${link.path} shows a protected path: ${listed(shown)}`] : []),
      ];
    });
}

/**
 * Past this, a change's paths (their characters) times the repository's own protected globs
 * fail the gate rather than being matched: the globs are the repository's, the paths the agent's.
 */
const MAX_PROTECTED_WORK = MAX_SCOPE_WORK;

/**
 * Fails any change to a protected path (Arbiter's, and the repository's: its setup's outputs and
 * inputs, its policy's list), however it was written — by the agent, or already in a base that is not on
 * the trusted ref (`fromBase`: protected paths the base changed since it left that ref), which
 * the delivered branch would carry along unjudged — and any change a symlink on a protected path,
 * or standing for a protected folder, would show there (`links`: every symlink of the tree).
 */
export function protectedGate(
  riskTier: number,
  files: readonly MeasuredFile[],
  fromBase: BaseDrift,
  policy: Pick<RepoPolicy, 'setup' | 'setupInputs' | 'protectedPaths'>,
  links: readonly TreeItem[] = [],
): GateResult {
  const repository = repositoryProtectedGlobs(policy, 'change');
  const changed = files.map((f) => f.path);
  const drift = 'unknown' in fromBase ? [] : fromBase;
  const work = [...changed, ...drift].reduce((n, p) => n + foldedWork(p, folded(p)), 0) * repository.length;
  if (work > MAX_PROTECTED_WORK)
    return arbiterGate(
      'protected',
      'fail',
      `the change names ${changed.length + drift.length} paths, too many and too long to check against the repository's ${repository.length} protected globs`,
    );
  const isProtected = protectedPathMatcher(riskTier, repository);
  const hits = changed.filter(isProtected);
  const problems: string[] = [];
  // What the base brings comes first: the retry decision looks for it, and the detail may be clipped.
  const fromBaseProtected = drift.length
    ? drift.filter(protectedPathMatcher(riskTier, repositoryProtectedGlobs(policy, 'base')))
    : [];
  if ('unknown' in fromBase) problems.push(fromBase.unknown);
  else if (fromBaseProtected.length) problems.push(`${BASE_PROTECTED_CHANGES}: ${listed(fromBaseProtected)}`);
  if (hits.length) problems.push(`protected path(s) changed: ${listed(hits)}`);
  const standsForProtected = protectedFolderMatcher(riskTier, repository);
  problems.push(...protectedLinkProblems(links, { isProtected, standsForProtected }, [...changed, ...drift]));
  if (problems.length) return arbiterGate('protected', 'fail', problems.join('; '));
  return arbiterGate('protected', 'pass', 'no protected path changed');
}

/** Fails gitlinks and disallowed or escaping symlinks; lists what the agent left outside the tree. */
export function treeGate(
  items: readonly TreeItem[],
  files: readonly MeasuredFile[],
  policy: RepoPolicy,
  leftBehind: { count: number; paths: readonly string[] },
  nestedRepositories: readonly string[] = [],
): GateResult {
  const nested = nestedRepositories.map(
    (d) =>
      `${printable(d)} holds a .git of its own: a nested repository would be a gitlink (submodule entry); refused, and kept out of the tree`,
  );
  const problems = [
    ...nested,
    ...treeProblems(items, new Set(files.map((f) => f.path)), { allowSymlinks: policy.allowSymlinks }),
  ];
  const left = leftBehind.count
    ? `; left behind, not part of the change: ${listed(leftBehind.paths)}${leftBehind.count > leftBehind.paths.length ? ` (${leftBehind.count} in all)` : ''}`
    : '';
  if (problems.length) return arbiterGate('tree', 'fail', `${problems.join('; ')}${left}`);
  return arbiterGate('tree', 'pass', `${items.length} tree entries, no gitlinks or unsafe symlinks${left}`);
}
