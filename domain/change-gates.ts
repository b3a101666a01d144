/**
 * Arbiter's own gates over a measured change: budget, scope, spec, protected paths and the
 * tree's shape. Pure: the activity measures the tree and hands the facts in, so each rule can
 * be read (and tested) on its own. `protected` and `tree` ignore the policy's gate modes: the
 * repository may relax its own checks, not the rules that keep the verdict meaningful.
 */
import { effectiveBudget } from './policy';
import {
  globFolderMatcher,
  protectedFolderMatcher,
  protectedPathMatcher,
  protectedPaths,
  repositoryProtectedGlobs,
} from './protected-paths';
import { folded, scopeMatcher } from './scope-match';
import { policyRefusals, type RepoPolicy } from './repo-policy';
import type { WorkingSpec } from './spec';
import { isFilledContract } from './contracts';
import { RESERVED_GATE_NAMES } from './gate-names';
import type { GateResult } from './task';
import { guardedLinkProblems, type LinkGuard } from './link-views';
import { treeProblems, type TreeItem } from './tree-rules';
import { printable } from './printable';
import { applyGateMode } from './verdict';
import { BASE_OUT_OF_SCOPE, BASE_PROTECTED_CHANGES } from './retry-feedback';
import { BASE_COUNTED } from './waiver';

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
  const work = paths.reduce((n, p) => n + foldedWork(p, folded(p)), 0) * globs;
  if (work > MAX_SCOPE_WORK)
    return [`the change names ${paths.length} paths, too many and too long to check against ${globs} scope globs`];
  const inScope = scopeMatcher(spec.scope.in, { outsideGrammar: false });
  const outOfScope = scopeOutMatcher(spec);
  return paths.flatMap((p) => {
    if (outOfScope(p)) return [`${p} (matches scope.out)`];
    if (!inScope(p)) return [`${p} (not in scope.in)`];
    return [];
  });
}

/** Whether a path is in `scope.out`, as named or as a case-folding file system reads it. */
function scopeOutMatcher(spec: WorkingSpec): (path: string) => boolean {
  const outOfScope = scopeMatcher(spec.scope.out, { nocase: true, asFolded: true, outsideGrammar: true });
  return (p) => {
    const asFolded = folded(p);
    return outOfScope(p) || (asFolded !== p && outOfScope(asFolded));
  };
}

/** Files, lines (every file read as text) and added bytes of the delivered branch against the effective budget. */
export function budgetGate(
  spec: WorkingSpec,
  files: readonly MeasuredFile[],
  policy: RepoPolicy,
  granted: readonly GrantedWaiver[],
  refused: readonly string[] = [],
  base: BaseChanges = { paths: [], changes: [] },
): GateResult {
  const drift = new Set(base.paths);
  const counted = [...files.filter((f) => !drift.has(f.path)), ...base.changes];
  const budget = granted.reduce(
    (b, w) => ({ ...b, maxFiles: b.maxFiles + w.maxFiles, maxLoc: b.maxLoc + w.maxLoc }),
    effectiveBudget({ spec, tierBudgets: policy.tiers }),
  );
  const maxBytes = policy.tiers[spec.riskTier].maxBytes;
  const lines = counted.reduce((n, f) => n + f.added + f.deleted, 0);
  const bytes = counted.reduce((n, f) => n + f.bytesAdded, 0);
  const ok = counted.length <= budget.maxFiles && lines <= budget.maxLoc && bytes <= maxBytes;
  const from = budget.source === 'spec' ? 'spec' : `tier ${spec.riskTier}, ${policy.source} policy`;
  const waived = granted.length ? `, raised by waiver(s) ${granted.map((w) => w.id).join(', ')}` : '';
  const ofBase = base.changes.length ? `; ${BASE_COUNTED}: ${base.changes.length} of its files the base's` : '';
  const notUsed = refused.length ? `; waiver(s) refused: ${refused.join('; ')}` : '';
  const detail = `${counted.length}/${budget.maxFiles} files, ${lines}/${budget.maxLoc} lines, ${bytes}/${maxBytes} bytes (budget from ${from}${waived})${ofBase}${notUsed}`;
  return arbiterGate('budget', applyGateMode(ok, policy.gateModes.budget), detail);
}

/**
 * What a base off the trusted ref brings to the delivered branch: the paths it changed
 * ({@link BaseDrift}), and the branch's change to each (from the base's merge base with the
 * trusted ref to the judged tree, the agent's edits there included). The budget counts the
 * branch: a tier-1 task based on a delivered tier-3 branch of 20 files was signed a tier-1 PASS of
 * one file (found in review). Its approvals size the agent's change alone, so no waiver raises it.
 */
export interface BaseChanges {
  paths: readonly string[];
  changes: readonly MeasuredFile[];
}

/**
 * What a task's base changed since it left the trusted ref: the paths, or why they cannot be known
 * (a base that shares no history with it), in which case no gate that judges them can pass.
 */
export type BaseDrift = readonly string[] | { unknown: string };

/**
 * Every path the delivered branch changes against the trusted ref inside `scope.in` and outside
 * `scope.out`: the agent's changes, and those of its base off the trusted ref (`fromBase`), which
 * the branch carries too (a submitter's `baseRef` may name any commit the repository holds). A
 * checkout shows a path through the tree's symlinks (`links`) as well: one standing for a
 * `scope.out` folder, or a change a link shows there, is out of scope too (both were delivered,
 * found in review: `src/secret -> internal/secret` in the base let `src/internal/secret/key.js`
 * change what `src/secret/key.js` reads).
 */
export function scopeGate(
  spec: WorkingSpec,
  files: readonly MeasuredFile[],
  policy: RepoPolicy,
  drift: BaseDrift = [],
  links: readonly TreeItem[] = [],
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
  const touched = [...files.map((f) => f.path), ...fromBase];
  const standsForGuarded = globFolderMatcher(spec.scope.out);
  // The repository's own link inside a scope.out folder (`tests/fixtures/root -> ../..`) shows the
  // whole tree there: only links the change or its base made, or standing for the folder, count.
  const guard: LinkGuard = {
    name: 'scope.out',
    isGuarded: scopeOutMatcher(spec),
    standsForGuarded,
    counts: (link, made) => made || standsForGuarded(link.path),
    globs: spec.scope.out.length,
  };
  const problems = [
    ...('unknown' in drift ? [drift.unknown] : []),
    ...(base.length ? [`${BASE_OUT_OF_SCOPE}: ${listed(base)}`] : []),
    ...(own.length ? [`out of scope: ${listed(own)}`] : []),
    ...guardedLinkProblems(links, touched, guard),
  ];
  const fromBaseNote = fromBase.length ? `, and ${fromBase.length} the base changes off the trusted ref` : '';
  const detail = problems.length ? problems.join('; ') : `${files.length} changed path(s) within scope${fromBaseNote}`;
  return arbiterGate('scope', applyGateMode(problems.length === 0, mode), detail);
}

/**
 * The policy's gates, with their modes, that are neither Arbiter's nor a command: CAWS checks
 * Arbiter does not run (or the mode of a submitter's gate of that name, which may not run either).
 */
function unrunPolicyGates(policy: RepoPolicy): string[] {
  const commands = new Set(policy.commands.map((c) => c.name));
  return Object.entries(policy.gateModes)
    .filter(([name, mode]) => mode !== 'skip' && !RESERVED_GATE_NAMES.includes(name) && !commands.has(name))
    .map(([name, mode]) => `${name} (${mode})`);
}

/**
 * The spec's warnings as evidence (validation already rejected invalid specs), and what a legacy
 * tier policy asks of the spec's tier: a mode it allows and a contract where it needs one fail
 * the gate when missing; what no gate measures (coverage, a manual review) is named, unenforced.
 */
export function specGate(
  spec: Pick<WorkingSpec, 'riskTier' | 'mode' | 'contracts'>,
  warnings: readonly string[],
  policy: RepoPolicy,
): GateResult {
  const rules = policy.tierRules?.[spec.riskTier];
  const refused = policyRefusals({ ...spec, hasContract: spec.contracts.some(isFilledContract) }, policy);
  const unenforced = [...(rules?.unenforced ?? []), ...unrunPolicyGates(policy).map((g) => `gate ${printable(g)}`)];
  const noted = [
    ...warnings,
    ...(unenforced.length ? [`not enforced by Arbiter: the policy's ${unenforced.join(', ')}`] : []),
  ];
  if (refused.length)
    return arbiterGate(
      'spec',
      'fail',
      `the ${policy.source} policy refuses the spec: ${[...refused, ...noted].join('; ')}`,
    );
  if (policy.gateModes.spec === 'skip') return arbiterGate('spec', 'skipped', 'skipped by the repository policy');
  const detail = noted.length ? `valid, with ${noted.length} warning(s): ${noted.join('; ')}` : 'valid and complete';
  return arbiterGate('spec', noted.length ? 'warn' : 'pass', detail);
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
  const standsForGuarded = protectedFolderMatcher(riskTier, repository);
  const guard: LinkGuard = {
    name: 'protected',
    isGuarded: isProtected,
    standsForGuarded,
    counts: (link, made) => made || isProtected(link.path) || standsForGuarded(link.path),
    globs: repository.length + protectedPaths(riskTier).length,
  };
  problems.push(...guardedLinkProblems(links, [...changed, ...drift], guard));
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
