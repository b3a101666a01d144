/**
 * The CAWS working spec, normalised. Both CAWS formats (legacy: `change_budget`,
 * `threats`, `observability`, `migrations`, `rollback`; current: `lifecycle_state`,
 * `evidence`, no budget) become one {@link WorkingSpec}. Pure: no I/O, no Node built-ins,
 * no environment — Temporal workflow code imports this module.
 */
import { z } from 'zod';
import { applyCurrentRules, applyLegacyRules } from './spec-format-rules';
import {
  acceptanceItemSchema,
  boundedText,
  blastRadiusSchema,
  coerceTier,
  contractsSchema,
  detectFormat,
  idSchema,
  MAX_ACCEPTANCE_COMMAND_CHARACTERS,
  MAX_ACCEPTANCE_COMMANDS,
  modeSchema,
  nonFunctionalSchema,
  parseField,
  scopeSchema,
  stringListSchema,
  type SpecFormat,
} from './spec-schema';
import { classifyScopeList, MAX_SCOPE_ENTRIES, quoteEntry } from './spec-scope';
import { acceptanceGateName } from './gate-names';
import { isFilledContract } from './contracts';

export { isPathGlob, normaliseScopeEntry } from './spec-scope';
export type { SpecFormat } from './spec-schema';

/** Why a union and not `number`: every budget, approval and strictness rule is keyed by tier, and a fourth tier must be a compile error. */
export type RiskTier = 1 | 2 | 3;

/** Why its own type: acceptance ids are what evidence and verdicts refer to, so they are kept exactly as the spec wrote them. */
export interface AcceptanceCriterion {
  id: string;
  given: string;
  when: string;
  then: string;
  testCommand?: string;
}

/**
 * Why one model for two formats: everything after validation (budgets, scope checks,
 * verdicts) must not care which CAWS generation wrote the spec. `scope.in` is an
 * allow-list of globs: an EMPTY `scope.in` admits NO path (fail closed), never all paths.
 * Match with dotfiles enabled. `scope.in` also includes the current format's
 * `scope.support` paths, which CAWS admits for writes exactly like `scope.in`.
 */
export interface WorkingSpec {
  id: string;
  title: string;
  riskTier: RiskTier;
  mode: string;
  format: SpecFormat;
  blastRadius: { modules: string[]; dataMigration: boolean };
  scope: { in: string[]; out: string[] };
  unenforceableScope: { in: string[]; out: string[] };
  invariants: string[];
  acceptance: AcceptanceCriterion[];
  nonFunctional: Record<string, unknown>;
  contracts: Array<Record<string, unknown>>;
  changeBudget?: { maxFiles: number; maxLoc: number };
  waiverIds: string[];
}

/** Why a result and not an exception: callers (CLI, activities) must show every problem at once, and warnings travel with an accepted spec. */
export type SpecValidationResult =
  { ok: true; spec: WorkingSpec; warnings: string[] } | { ok: false; problems: string[] };

/** Why an option: the same bytes can be a valid legacy spec and an invalid current one, so a caller that requires the current format must be able to say so. */
export interface ValidateOptions {
  format?: SpecFormat;
}

/**
 * Validates a YAML-parsed working spec and normalises it, listing every problem by field
 * path. Tier decides strictness: at tier 1 anything Arbiter cannot enforce is a problem; at
 * tiers 2 and 3 it is a warning, and the gap always fails closed (prose in `scope.in`
 * admits nothing; a missing scope means no file may change).
 *
 * Contracts: DESIGN.md requires them at tiers 1 and 2. The real corpus has a tier-2 spec
 * without any (QUALITY-GATES-HOOKS-MIGRATION-PLAN-001) and a tier-1 spec whose only
 * contract is an empty placeholder (legacy FEAT-0001), so: none at tier 1 is a problem,
 * none at tier 2 a warning, and placeholder entries are warned about at every tier.
 */
export function validateWorkingSpec(raw: unknown, options: ValidateOptions = {}): SpecValidationResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, problems: ['(root): must be a mapping of spec fields'] };
  }
  const r = raw as Record<string, unknown>;
  const problems: string[] = [];
  const warnings: string[] = [];
  const format = options.format ?? detectFormat(r);

  const { tier, coerced } = coerceTier(r['risk_tier']);
  if (tier === undefined) {
    const got = r['risk_tier'] === undefined ? 'missing' : `got ${JSON.stringify(r['risk_tier'])}`;
    problems.push(`risk_tier: must be 1, 2 or 3 (${got})`);
  } else if (coerced) {
    warnings.push(`risk_tier: ${JSON.stringify(r['risk_tier'])} read as ${tier}; write the number`);
  }
  /** Tier-1 problem, tier-2/3 warning; skipped when the tier itself is invalid (already rejected). */
  const strictAtTier1 = (message: string): void => {
    if (tier === 1) problems.push(message);
    else if (tier !== undefined) warnings.push(message);
  };

  const id = parseField(idSchema, r['id'], ['id'], problems);
  const title = parseField(boundedText(500), r['title'], ['title'], problems);
  const mode = parseField(modeSchema, r['mode'], ['mode'], problems);

  let changeBudget: WorkingSpec['changeBudget'];
  if (format === 'current') applyCurrentRules(r, options.format === 'current', problems, warnings);
  else changeBudget = applyLegacyRules(r, problems, warnings);

  let blastRadius: WorkingSpec['blastRadius'] = { modules: [], dataMigration: false };
  if (r['blast_radius'] === undefined) strictAtTier1('blast_radius: missing');
  else {
    const br = parseField(blastRadiusSchema, r['blast_radius'], ['blast_radius'], problems);
    if (br) blastRadius = { modules: br.modules, dataMigration: br.data_migration ?? false };
  }

  const { scope, unenforceableScope } = checkScope(r['scope'], tier, problems, warnings, strictAtTier1);

  let invariants: string[] = [];
  if (r['invariants'] === undefined) strictAtTier1('invariants: missing');
  else invariants = parseField(stringListSchema, r['invariants'], ['invariants'], problems) ?? [];

  const acceptance = checkAcceptance(r, format, tier, problems, warnings);

  const nonFunctional =
    r['non_functional'] == null
      ? {}
      : (parseField(nonFunctionalSchema, r['non_functional'], ['non_functional'], problems) ?? {});

  const contracts =
    r['contracts'] == null ? [] : (parseField(contractsSchema, r['contracts'], ['contracts'], problems) ?? []);
  if (contracts.length === 0 && (tier === 1 || tier === 2)) {
    const msg = `contracts: tier ${tier} requires at least one contract`;
    if (tier === 1) problems.push(msg);
    else warnings.push(`${msg}; none given, accepted at tier 2 because real CAWS specs omit them`);
  }
  contracts.forEach((c, i) => {
    if (!isFilledContract(c)) warnings.push(`contracts[${i}]: empty placeholder (no name, type or path)`);
  });

  const waiverIds =
    r['waiver_ids'] == null ? [] : (parseField(stringListSchema, r['waiver_ids'], ['waiver_ids'], problems) ?? []);
  // Each id listed is a grant the budget adds: one listed twice would be added twice.
  waiverIds.forEach((id, i) => {
    if (waiverIds.indexOf(id) !== i) problems.push(`waiver_ids[${i}]: duplicate id ${JSON.stringify(id)}`);
  });

  if (problems.length > 0 || tier === undefined || !id || !title || !mode) {
    return { ok: false, problems };
  }
  const spec: WorkingSpec = {
    id,
    title,
    riskTier: tier,
    mode,
    format,
    blastRadius,
    scope,
    unenforceableScope,
    invariants,
    acceptance,
    nonFunctional,
    contracts,
    waiverIds,
    ...(changeBudget ? { changeBudget } : {}),
  };
  return { ok: true, spec, warnings };
}

function checkScope(
  value: unknown,
  tier: RiskTier | undefined,
  problems: string[],
  warnings: string[],
  strictAtTier1: (m: string) => void,
): Pick<WorkingSpec, 'scope' | 'unenforceableScope'> {
  const parsed = value === undefined ? undefined : parseField(scopeSchema, value, ['scope'], problems);
  const lists = { in: parsed?.in ?? [], support: parsed?.support ?? [], out: parsed?.out ?? [] };
  const scope = { in: [] as string[], out: [] as string[] };
  const unenforceableScope = { in: [] as string[], out: [] as string[] };
  const entries = lists.in.length + lists.support.length + lists.out.length;
  if (entries > MAX_SCOPE_ENTRIES)
    problems.push(`scope: ${entries} entries in in, support and out together; at most ${MAX_SCOPE_ENTRIES}`);
  for (const key of ['in', 'support', 'out'] as const) {
    const res = classifyScopeList(lists[key].slice(0, MAX_SCOPE_ENTRIES));
    const target = key === 'out' ? 'out' : 'in';
    for (const g of res.globs) if (!scope[target].includes(g)) scope[target].push(g);
    unenforceableScope[target].push(...res.prose);
    for (const i of res.outside) {
      problems.push(
        `scope.${key}[${i}]: ${quoteEntry(lists[key][i] ?? '')} must be relative to the repository root, without ".."`,
      );
    }
    for (const { index, problem } of res.refused)
      problems.push(`scope.${key}[${index}]: ${quoteEntry(lists[key][index] ?? '')} ${problem}`);
    for (const i of res.proseIndexes) {
      const head = `scope.${key}[${i}]: ${quoteEntry(lists[key][i] ?? '')} is prose, not a path glob`;
      if (tier === 1) problems.push(`${head}; tier 1 requires every scope entry to be an enforceable path`);
      else if (tier !== undefined) {
        warnings.push(
          key === 'out'
            ? `${head}; Arbiter cannot enforce it, so the exclusion it describes is NOT applied`
            : `${head}; Arbiter cannot enforce it, so it admits nothing`,
        );
      }
    }
  }
  // An empty allow-list admits nothing, so accepting it cannot widen access: a problem at
  // tier 1 (nothing enforceable), a warning otherwise, because real tier-2 CAWS specs
  // (the PROJECT-001 demos) have prose-only scope and must still load.
  if (scope.in.length === 0) {
    strictAtTier1(
      `scope.in: no enforceable path${value === undefined ? ' (scope is missing)' : ''}, so every file write will be refused`,
    );
  }
  if (scope.in.includes('**')) warnings.push('scope.in: admits every path in the repository');
  return { scope, unenforceableScope };
}

function checkAcceptance(
  r: Record<string, unknown>,
  format: SpecFormat,
  tier: RiskTier | undefined,
  problems: string[],
  warnings: string[],
): AcceptanceCriterion[] {
  let key = 'acceptance';
  if (r['acceptance'] === undefined && r['acceptance_criteria'] !== undefined && format === 'legacy') {
    key = 'acceptance_criteria';
    warnings.push('acceptance_criteria: old alias read as acceptance; rename it');
  } else if (r['acceptance'] !== undefined && r['acceptance_criteria'] !== undefined && format === 'legacy') {
    warnings.push('acceptance_criteria: ignored because acceptance is present');
  }
  if (r[key] === undefined) {
    problems.push('acceptance: required (a list of criteria with id, given, when, then)');
    return [];
  }
  const items = parseField(z.array(acceptanceItemSchema), r[key], [key], problems) ?? [];
  if (items.length === 0 && Array.isArray(r[key])) {
    const msg = `${key}: no acceptance criteria`;
    if (tier === 3) warnings.push(`${msg}; the verdict rests on policy gates alone`);
    else if (tier !== undefined) problems.push(`${msg}; tier ${tier} requires at least one`);
  }
  const commands = items.flatMap((a) => (a.test_command?.trim() ? [a.test_command] : []));
  if (commands.length > MAX_ACCEPTANCE_COMMANDS)
    problems.push(`${key}: ${commands.length} criteria have a test_command; at most ${MAX_ACCEPTANCE_COMMANDS} may`);
  // Counted after YAML aliases are expanded: one long command named twenty times is twenty.
  const characters = commands.join('').length;
  if (characters > MAX_ACCEPTANCE_COMMAND_CHARACTERS)
    problems.push(`${key}: test_commands total ${characters} characters; at most ${MAX_ACCEPTANCE_COMMAND_CHARACTERS}`);
  const seen = new Set<string>();
  const gates = new Map<string, string>();
  items.forEach((a, i) => {
    if (seen.has(a.id)) problems.push(`${key}[${i}].id: duplicate id ${JSON.stringify(a.id)}`);
    seen.add(a.id);
    if (!a.test_command?.trim()) return;
    // Results are stored and judged by gate name: two commands under one name, one's result stands for both.
    const gate = acceptanceGateName(a.id);
    const other = gates.get(gate);
    if (other !== undefined && other !== a.id)
      problems.push(
        `${key}[${i}].id: ${JSON.stringify(a.id)} names the same gate as ${JSON.stringify(other)} (${gate})`,
      );
    gates.set(gate, a.id);
  });
  return items.map((a) => ({
    id: a.id,
    given: a.given,
    when: a.when,
    then: a.then,
    ...(typeof a.test_command === 'string' && a.test_command.trim() !== '' ? { testCommand: a.test_command } : {}),
  }));
}
