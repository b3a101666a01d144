/**
 * Rules that differ between the two CAWS formats. Pure: imported by workflow code.
 *
 * The current format (schemas/spec.v1.json) is closed and strict; the legacy format was
 * never enforced by CAWS itself (its own specs break its own schema: contract types such
 * as `cli_interface`, an empty placeholder contract, rollback as a mapping), so legacy
 * rules only warn where the current rules reject.
 */
import { z } from 'zod';
import {
  CURRENT_CONTRACT_TYPES,
  CURRENT_KNOWN_FIELDS,
  CURRENT_MODES,
  CURRENT_NON_FUNCTIONAL_KEYS,
  LEGACY_ONLY_FIELDS,
  LIFECYCLE_STATES,
  changeBudgetSchema,
  nonBlank,
  parseField,
} from './spec-schema';

const LEGACY_FIELD_REASONS: Record<(typeof LEGACY_ONLY_FIELDS)[number], string> = {
  change_budget: 'not allowed in the current CAWS format: budgets come from the tier policy',
  threats: 'legacy-format field, not allowed in the current CAWS format',
  migrations: 'legacy-format field, not allowed in the current CAWS format',
  acceptance_criteria: 'old alias, not allowed in the current CAWS format; use acceptance',
};

const currentContract = z.object({ name: nonBlank, type: z.enum(CURRENT_CONTRACT_TYPES) }).passthrough();

/**
 * Applies the current format's closed vocabulary. `asserted` is true when the caller said
 * the spec must be current-format; only then is a missing `lifecycle_state` an error,
 * since an unmarked spec is read as current by default and should not fail for that.
 */
export function applyCurrentRules(
  raw: Record<string, unknown>,
  asserted: boolean,
  problems: string[],
  warnings: string[],
): void {
  if (raw['lifecycle_state'] === undefined) {
    const msg = `lifecycle_state: required in the current CAWS format (one of ${LIFECYCLE_STATES.join(', ')})`;
    if (asserted) problems.push(msg);
    else warnings.push('lifecycle_state: missing; the spec is read as the current CAWS format');
  } else {
    parseField(z.enum(LIFECYCLE_STATES), raw['lifecycle_state'], ['lifecycle_state'], problems);
  }
  for (const field of LEGACY_ONLY_FIELDS) {
    if (field in raw) problems.push(`${field}: ${LEGACY_FIELD_REASONS[field]}`);
  }
  if (raw['observability'] !== undefined) {
    parseField(z.array(z.string()), raw['observability'], ['observability'], problems);
  }
  if (typeof raw['mode'] === 'string' && raw['mode'].trim() !== '') {
    parseField(z.enum(CURRENT_MODES), raw['mode'], ['mode'], problems);
  }
  if (Array.isArray(raw['contracts'])) {
    raw['contracts'].forEach((c, i) => {
      // Non-mapping entries are already reported by the shared contracts rule.
      if (c !== null && typeof c === 'object' && !Array.isArray(c))
        parseField(currentContract, c, ['contracts', i], problems);
    });
  }
  const nf = raw['non_functional'];
  if (nf !== null && typeof nf === 'object' && !Array.isArray(nf)) {
    const allowed: readonly string[] = CURRENT_NON_FUNCTIONAL_KEYS;
    for (const [key, value] of Object.entries(nf)) {
      if (!allowed.includes(key)) {
        problems.push(`non_functional.${key}: not a current-format key (use ${allowed.join(', ')})`);
      } else {
        parseField(z.array(z.string()), value, ['non_functional', key], problems);
      }
    }
  }
  const unknown = Object.keys(raw).filter((k) => !CURRENT_KNOWN_FIELDS.has(k) && !(k in LEGACY_FIELD_REASONS));
  if (unknown.length > 0) warnings.push(`unknown fields ignored: ${unknown.join(', ')}`);
}

/**
 * Applies the legacy format's rules: `change_budget` is optional and must be well-formed
 * (it becomes the effective budget), everything else is only warned about.
 */
export function applyLegacyRules(
  raw: Record<string, unknown>,
  problems: string[],
  warnings: string[],
): { maxFiles: number; maxLoc: number } | undefined {
  const mode = raw['mode'];
  if (typeof mode === 'string' && !(CURRENT_MODES as readonly string[]).includes(mode)) {
    warnings.push(`mode: ${JSON.stringify(mode)} is not a CAWS mode (${CURRENT_MODES.join(', ')}); kept as written`);
  }
  if (raw['change_budget'] === undefined || raw['change_budget'] === null) return undefined;
  const cb = parseField(changeBudgetSchema, raw['change_budget'], ['change_budget'], problems);
  return cb ? { maxFiles: cb.max_files, maxLoc: cb.max_loc } : undefined;
}
