/**
 * zod schemas for the raw fields of both CAWS working-spec formats, and the helpers that
 * turn zod issues into `field.path: message` problems. Pure: imported by workflow code.
 *
 * Fields are parsed one at a time rather than as one object so that a broken field does
 * not hide the others: every problem is reported, and every valid field is still
 * available to the tier rules in spec.ts.
 */
import { z } from 'zod';
import { NO_NUL, nulFree } from './argv-word';

/** Why: the model is shared by both formats; knowing which one a spec came from decides which rules apply. */
export type SpecFormat = 'current' | 'legacy';

/** A non-blank string; YAML turns an empty value into `null` or `''`, neither is a value. */
export const nonBlank = z.string().refine((s) => s.trim() !== '', 'must not be empty');
const stringList = z.array(nonBlank);
/** CAWS writes an emptied list as a bare key, which YAML reads as null: treat it as `[]`. */
const optionalList = stringList.nullish().transform((v) => v ?? []);

/**
 * A non-blank string of at most `max` characters. The fields a run keeps in workflow memory
 * (id, title, mode, acceptance commands) are bounded, far above any real spec's.
 */
export function boundedText(max: number) {
  return nonBlank.refine((s) => s.length <= max, `must be at most ${max} characters`);
}

/** Ids become Temporal workflow ids and file names, so they are held to a safe alphabet rather than either format's pattern (neither fits the other's real ids). */
export const idSchema = boundedText(128).refine(
  (s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s),
  'must be letters, digits, ".", "_" or "-" (it names workflows and files)',
);

/**
 * A spec's mode is the task's type: routing keys its statistics and records its decisions by it,
 * and metrics label by it, so it holds no control characters (a NUL could not be stored in a
 * JSON column, and the run failed at routing with the database's refusal).
 */
export const modeSchema = boundedText(64).refine(
  (s) => !/[\u0000-\u001f\u007f]/.test(s),
  'must not contain control characters (it is the task type routing keeps records by)',
);

/** Acceptance criteria with a `test_command` a spec may have: each runs as a gate of its own. */
export const MAX_ACCEPTANCE_COMMANDS = 20;
/** Characters all of a spec's `test_command`s may have together: the workflow keeps them. */
export const MAX_ACCEPTANCE_COMMAND_CHARACTERS = 16 * 1024;

/** `test_command` is optional: most current-format specs record evidence instead; extra keys (`narrative`, `test_nodeids`) pass through. */
export const acceptanceItemSchema = z
  .object({
    id: boundedText(128),
    given: nonBlank,
    when: nonBlank,
    then: nonBlank,
    test_command: z.string().max(4096, 'must be at most 4096 characters').refine(nulFree, NO_NUL).nullish(),
  })
  .passthrough();

/** Informational for Arbiter (not enforced), so only its shape is checked; `data_migration` defaults to false. */
export const blastRadiusSchema = z
  .object({ modules: z.array(z.string()), data_migration: z.boolean().optional() })
  .passthrough();

/**
 * `support` (current format) is admitted for writes like `in`, so it is parsed here and merged by the
 * caller. Any other key is refused: `exclude` or `Out:` read as nothing would drop an exclusion the
 * author meant, while the verdict names a spec that shows it.
 */
export const scopeSchema = z.object({ in: optionalList, out: optionalList, support: optionalList }).strict();

/** A budget of zero or a fraction cannot be enforced meaningfully, so both limits must be positive integers. */
export const changeBudgetSchema = z
  .object({
    max_files: z.number().int().positive(),
    max_loc: z.number().int().positive(),
  })
  .passthrough();

/** Contract shapes differ between formats; the shared rule only needs mappings, format rules check the rest. */
export const contractsSchema = z.array(z.record(z.unknown()));
/** Carried through for reports, not enforced; format rules check the keys. */
export const nonFunctionalSchema = z.record(z.unknown());
/** For invariants and waiver ids: a blank entry is always an authoring slip. */
export const stringListSchema = stringList;

/** Closed vocabularies of the current format (schemas/spec.v1.json); the legacy format only gets warnings against them. */
export const CURRENT_MODES = ['feature', 'refactor', 'fix', 'doc', 'chore'] as const;
/** Required discriminator of the current format. */
export const LIFECYCLE_STATES = ['draft', 'active', 'closed', 'archived'] as const;
/** spec.v1.json's contract types; legacy specs use others (`openapi`, `cli_interface`). */
export const CURRENT_CONTRACT_TYPES = ['api', 'schema', 'contract-test', 'behavior'] as const;
/** spec.v1.json's non_functional keys; legacy specs use `a11y` and `perf`. */
export const CURRENT_NON_FUNCTIONAL_KEYS = ['performance', 'security', 'accessibility', 'reliability'] as const;

/** Fields only the legacy format has; in a current-format spec they mean a format mix-up. */
export const LEGACY_ONLY_FIELDS = ['change_budget', 'threats', 'migrations', 'acceptance_criteria'] as const;

/** Every top-level field spec.v1.json knows; anything else in a current spec is warned about. */
export const CURRENT_KNOWN_FIELDS: ReadonlySet<string> = new Set([
  'id',
  'title',
  'risk_tier',
  'mode',
  'lifecycle_state',
  'resolution',
  'blockers',
  'supersedes',
  'superseded_by',
  'successors',
  'worktree',
  'operational_rollback_slo',
  'blast_radius',
  'scope',
  'invariants',
  'acceptance',
  'non_functional',
  'contracts',
  'observability',
  'rollback',
  'experimental_mode',
  'created_at',
  'updated_at',
  'owner',
  'closure_notes',
  'evidence',
  'waiver_ids',
]);

/**
 * Picks the format from the fields present. `lifecycle_state` is the current format's
 * required discriminator, so it wins even when legacy fields are also present (that mix is
 * then rejected by the current rules). Otherwise any legacy-only field, the v10 `status`
 * field or an object-shaped `observability` means legacy. A spec with neither is read as
 * current, because budgets then come from policy, the safer default.
 */
export function detectFormat(raw: Record<string, unknown>): SpecFormat {
  if ('lifecycle_state' in raw || 'evidence' in raw) return 'current';
  if (LEGACY_ONLY_FIELDS.some((f) => f in raw) || 'status' in raw) return 'legacy';
  const obs = raw['observability'];
  if (obs !== null && typeof obs === 'object' && !Array.isArray(obs)) return 'legacy';
  return 'current';
}

/** Formats a field path the way the problems name it: `acceptance[2].then`. */
function formatPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`),
    '',
  );
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
  boolean: 'true or false',
  number: 'a number',
  integer: 'a whole number',
};

/** Plain-language messages; zod's defaults ("Expected array, received null") read poorly in a CLI. */
const errorMap: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (issue.received === 'undefined') return { message: 'required' };
    return { message: `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}` };
  }
  if (issue.code === z.ZodIssueCode.too_small && issue.type === 'number') {
    return {
      message: issue.inclusive
        ? `must be at least ${String(issue.minimum)}`
        : `must be greater than ${String(issue.minimum)}`,
    };
  }
  if (issue.code === z.ZodIssueCode.invalid_enum_value) {
    return { message: `must be one of ${issue.options.join(', ')} (got ${JSON.stringify(issue.received)})` };
  }
  return { message: ctx.defaultError };
};

/**
 * Parses one field and appends its problems (named by full path) to `problems`. Returns
 * the parsed value, or undefined when the field is invalid, so later rules can skip it.
 */
export function parseField<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  path: ReadonlyArray<string | number>,
  problems: string[],
): z.output<T> | undefined {
  const result = schema.safeParse(value, { errorMap });
  if (result.success) return result.data as z.output<T>;
  for (const issue of result.error.issues) problems.push(`${formatPath([...path, ...issue.path])}: ${issue.message}`);
  return undefined;
}

/**
 * Accepts the string tier forms CAWS tooling has written (`T3`, `"2"`). spec.v1.json says
 * to coerce them upstream, and Arbiter is upstream; the caller warns when it coerced.
 */
export function coerceTier(value: unknown): { tier?: 1 | 2 | 3; coerced: boolean } {
  if (value === 1 || value === 2 || value === 3) return { tier: value, coerced: false };
  if (typeof value === 'string') {
    const m = /^\s*[Tt]?([123])\s*$/.exec(value);
    if (m) return { tier: Number(m[1]) as 1 | 2 | 3, coerced: true };
  }
  return { coerced: false };
}
