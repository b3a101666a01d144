/**
 * A target repository's CAWS policy (`.caws/policy.yaml`, or the legacy `tier-policy.json`
 * shape), normalised: per-tier budgets, gate modes and waiver rules. Both formats in the CAWS
 * corpus load; anything malformed is refused with the field named. Pure: the caller reads the
 * file (at the repository's trusted ref, never the submitter's base) and passes the parsed object.
 */
import { ArgvWord } from './argv-word';
import { zodProblems } from './zod-issues';
import { z } from 'zod';
import { PolicyInvalidError } from './errors';
import { DEFAULT_TIER_POLICY, type ChangeBudget } from './policy';
import type { RiskTier } from './spec';
import { arbiterGateName, GATE_NAME_PATTERN, reservedGateNameProblem } from './gate-names';
import { MAX_WAIVER_DAYS } from './waiver';
import type { CostWeights } from './routing-context';
import { MAX_CANDIDATES } from './candidates';
import { enforceablePaths, MAX_SCOPE_ENTRIES } from './spec-scope';
import { printable } from './printable';

/** A tier's budget: files, lines, and the bytes a change may add (binary files count only here). */
export type TierBudget = ChangeBudget & { maxBytes: number };

/** How a failing gate counts. */
export type GateMode = (typeof GATE_MODES)[number];
/** The modes a policy may give a gate. */
export const GATE_MODES = ['block', 'warn', 'skip'] as const;

/** The policy Arbiter applies to one repository. */
export interface RepoPolicy {
  source: 'default' | 'current' | 'legacy';
  tiers: Record<RiskTier, TierBudget>;
  /** Symlinks in a change are refused unless the policy allows them (they never may point outside the tree). */
  allowSymlinks: boolean;
  /** By Arbiter gate name (`budget`, `scope`, or a command gate's name); absent means block. */
  gateModes: Record<string, GateMode>;
  /** `enabled`: the policy has a `waivers` section, so a budget overrun may be waived instead of failing. */
  waivers: {
    enabled: boolean;
    minApprovers: Partial<Record<RiskTier, number>>;
    windowHours: number;
    maxExpiryDays: number;
  };
  /** Commands the policy makes gates of every task (tests, lint, type-check), run in the sandbox. */
  commands: Array<{ name: string; argv: string[] }>;
  /** Installs dependencies before the agent runs; absent when the repository needs none. */
  setup?: RepoSetup;
  /**
   * How many times the agent may try when blocking gates fail, each retry seeing why the last
   * failed (1: never retried). Absent from policies read before retries existed.
   */
  maxAttempts?: number;
  /** The cost term routing takes off a verdict's reward; absent, routing learns from verdicts alone. */
  routingCost?: CostWeights;
  /** Candidates a task of each tier runs when its submitter asks for none (best of N); absent, one. */
  candidates?: Partial<Record<RiskTier, number>>;
  /**
   * Globs no agent may change beside Arbiter's own protected paths (a gate's test harness), judged
   * by the non-waivable `protected` gate; absent from policies read before the list existed.
   */
  protectedPaths?: string[];
  /**
   * The files the setup reads, as the policy lists them (`arbiter.setup.inputs`); absent, the usual
   * manifests and lockfiles (domain/protected-paths.ts). Every gate runs with what setup installed
   * from the base's, so a change to one would be judged by gates that never ran with it.
   */
  setupInputs?: string[];
  /**
   * A legacy tier policy's rules beside its budgets, by tier: the modes a spec may have, whether it
   * needs a contract, and what Arbiter does not enforce (coverage, mutation score, a manual review),
   * which the spec gate names. Dropped, a tier-2 `chore` with no contract was signed PASS under a
   * policy that refused both (found in review).
   */
  tierRules?: Partial<Record<RiskTier, TierRules>>;
}

/** What a legacy tier policy asks of a tier's specs beside the budget. */
export interface TierRules {
  allowedModes?: string[];
  requiresContracts?: boolean;
  /** Requirements no gate of Arbiter's measures, as the policy states them. */
  unenforced: string[];
}

/** Attempts a task gets when its policy says nothing: one retry with the gates' evidence. */
export const DEFAULT_MAX_ATTEMPTS = 2;
/** The most attempts a policy may allow: each is a full agent run and verification. */
export const MAX_ATTEMPTS_LIMIT = 5;

/** The attempts the policy allows, its default when it names none. */
export function attemptsAllowed(policy: RepoPolicy): number {
  return policy.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
}

/**
 * A repository's dependency installation: run once per workspace at the base commit, with the
 * network limited to the listed registries; its outputs are then mounted read-only for the agent
 * and every gate, and no change may carry a path of the same name.
 */
export interface RepoSetup {
  argv: string[];
  /** Top-level folders the command produces (`node_modules`, `.venv`). */
  outputs: string[];
  /** `host:port` of each registry the command may reach through the gateway. */
  registries: string[];
  timeoutSeconds: number;
}

function defaultTier(tier: RiskTier): TierBudget {
  const { maxFiles, maxLoc, maxBytes } = DEFAULT_TIER_POLICY[tier];
  return { maxFiles, maxLoc, maxBytes };
}

/** The policy of a repository without one. */
export const DEFAULT_REPO_POLICY: RepoPolicy = {
  source: 'default',
  tiers: { 1: defaultTier(1), 2: defaultTier(2), 3: defaultTier(3) },
  allowSymlinks: false,
  gateModes: {},
  waivers: { enabled: false, minApprovers: {}, windowHours: 24, maxExpiryDays: MAX_WAIVER_DAYS },
  commands: [],
  maxAttempts: DEFAULT_MAX_ATTEMPTS,
};

const Budget = z
  .object({
    max_files: z.number().int().positive(),
    max_loc: z.number().int().positive(),
    max_bytes: z.number().int().positive().optional(),
  })
  .passthrough();
const Mode = z.enum(GATE_MODES);
/** One folder name; never `.`/`..` nor a folder Arbiter protects (`.git`, `.caws`, hooks, CI). */
const OUTPUT_NAME = /^(?!\.{1,2}$)(?!\.(git|caws|githooks|husky|github|circleci|buildkite)$)[A-Za-z0-9._-]{1,100}$/i;

const CurrentPolicy = z
  .object({
    version: z.number().optional(),
    risk_tiers: z
      .object({ '1': Budget.optional(), '2': Budget.optional(), '3': Budget.optional() })
      .passthrough()
      .optional(),
    gates: z
      .record(
        z
          .object({
            enabled: z.boolean().optional(),
            mode: Mode.optional(),
            /** Arbiter extension: a command that makes this gate run in every task, on the change's tree. */
            command: z.array(ArgvWord).min(1).optional(),
          })
          .passthrough(),
      )
      .optional(),
    /**
     * Where CAWS's earlier schema (the corpus's policy.schema.json) keeps the waiver quorum; the
     * larger of the two stands. Ignored, one approver granted what it said needs two (found in review).
     */
    edit_rules: z
      .object({ min_approvers_for_budget_raise: z.number().int().min(1).max(10).optional() })
      .passthrough()
      .optional(),
    waivers: z
      .object({
        min_approvers_for_budget_raise: z.number().int().min(1).max(10).optional(),
        /** Arbiter extension: hours a task waits for a waiver decision before it fails. */
        decision_window_hours: z
          .number()
          .positive()
          .max(24 * 30)
          .optional(),
        /** Arbiter extension: the longest expiry an approver may give a waiver. */
        max_expiry_days: z.number().positive().max(MAX_WAIVER_DAYS).optional(),
      })
      .passthrough()
      .optional(),
    /** Arbiter's own settings. */
    arbiter: z
      .object({
        allow_symlinks: z.boolean().optional(),
        /** Attempts per task when blocking gates fail; 1 turns retries off. */
        max_attempts: z.number().int().min(1).max(MAX_ATTEMPTS_LIMIT).optional(),
        /** Best of N by tier: how many candidates a task of that tier runs unless its submitter says. */
        candidates: z
          .object({
            '1': z.number().int().min(1).max(MAX_CANDIDATES).optional(),
            '2': z.number().int().min(1).max(MAX_CANDIDATES).optional(),
            '3': z.number().int().min(1).max(MAX_CANDIDATES).optional(),
          })
          .strict()
          .optional(),
        /** What routing charges a run, in reward (1 is a pass): per million tokens, per US dollar, per minute. */
        routing_cost: z
          .object({
            per_million_tokens: z.number().min(0).max(1000).default(0),
            per_usd: z.number().min(0).max(1000).default(0),
            per_minute: z.number().min(0).max(1000).default(0),
          })
          .strict()
          .optional(),
        /** Paths no agent may change in any task: the repository's gate harness, whatever a spec's scope says. */
        protected: z.array(z.string()).max(MAX_SCOPE_ENTRIES).optional(),
        setup: z
          .object({
            command: z.array(ArgvWord).min(1, 'setup.command must name a program'),
            outputs: z
              .array(
                z.string().regex(OUTPUT_NAME, 'must be one folder name at the repository root, such as node_modules'),
              )
              .min(1, 'setup.outputs must name what the command produces'),
            registries: z
              .array(z.string().url('must be a registry URL such as https://registry.npmjs.org'))
              .default([]),
            timeout_seconds: z.number().int().positive().max(3600).default(900),
            inputs: z.array(z.string()).max(MAX_SCOPE_ENTRIES).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .optional(),
  })
  .passthrough();
/** `host:port` of a registry URL, with the scheme's default port. */
export function registryHostPort(url: string): string {
  const u = new URL(url);
  return `${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
}

function setupOf(raw: z.output<typeof CurrentPolicy>['arbiter']): RepoSetup | undefined {
  const s = raw?.setup;
  if (!s) return undefined;
  return {
    argv: s.command,
    outputs: [...new Set(s.outputs)],
    registries: [...new Set(s.registries.map(registryHostPort))],
    timeoutSeconds: s.timeout_seconds,
  };
}

function routingCostOf(raw?: { per_million_tokens: number; per_usd: number; per_minute: number }) {
  if (!raw) return {};
  return { routingCost: { perMillionTokens: raw.per_million_tokens, perUsd: raw.per_usd, perMinute: raw.per_minute } };
}

function candidatesOf(raw?: { '1'?: number; '2'?: number; '3'?: number }) {
  return raw ? { candidates: { 1: raw['1'], 2: raw['2'], 3: raw['3'] } } : {};
}

const LegacyTier = Budget.extend({
  allowed_modes: z.array(z.string()).optional(),
  requires_contracts: z.boolean().optional(),
  requires_manual_review: z.boolean().optional(),
  min_branch: z.number().min(0).max(1).optional(),
  min_mutation: z.number().min(0).max(1).optional(),
});
const LegacyPolicy = z.object({ '1': LegacyTier, '2': LegacyTier, '3': LegacyTier }).passthrough();

function legacyTierRules(tier: z.output<typeof LegacyTier>): TierRules {
  const unenforced = [
    ...(tier.requires_manual_review ? ['a manual review'] : []),
    ...(tier.min_branch !== undefined ? [`branch coverage of ${tier.min_branch}`] : []),
    ...(tier.min_mutation !== undefined ? [`a mutation score of ${tier.min_mutation}`] : []),
  ];
  return {
    ...(tier.allowed_modes ? { allowedModes: tier.allowed_modes } : {}),
    ...(tier.requires_contracts !== undefined ? { requiresContracts: tier.requires_contracts } : {}),
    unenforced,
  };
}

function problems(error: z.ZodError): string[] {
  return zodProblems(error, { root: '(root)' });
}

const tiersFrom = (pick: (t: '1' | '2' | '3') => z.output<typeof Budget> | undefined): Record<RiskTier, TierBudget> => {
  const one = (t: '1' | '2' | '3', tier: RiskTier): TierBudget => {
    const b = pick(t);
    return b
      ? { maxFiles: b.max_files, maxLoc: b.max_loc, maxBytes: b.max_bytes ?? DEFAULT_TIER_POLICY[tier].maxBytes }
      : defaultTier(tier);
  };
  return { 1: one('1', 1), 2: one('2', 2), 3: one('3', 3) };
};

/** Normalises a parsed policy file; `undefined` (no file) gives the defaults. */
export function normaliseRepoPolicy(raw: unknown): RepoPolicy {
  if (raw === undefined || raw === null) return DEFAULT_REPO_POLICY;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new PolicyInvalidError(['(root): must be a mapping']);
  const isLegacy = ['1', '2', '3'].some((k) => k in raw) && !('risk_tiers' in raw);
  if (isLegacy) {
    const parsed = LegacyPolicy.safeParse(raw);
    if (!parsed.success) throw new PolicyInvalidError(problems(parsed.error));
    return {
      source: 'legacy',
      tiers: tiersFrom((t) => parsed.data[t]),
      tierRules: {
        1: legacyTierRules(parsed.data['1']),
        2: legacyTierRules(parsed.data['2']),
        3: legacyTierRules(parsed.data['3']),
      },
      allowSymlinks: false,
      gateModes: {},
      waivers: { enabled: false, minApprovers: {}, windowHours: 24, maxExpiryDays: MAX_WAIVER_DAYS },
      commands: [],
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
    };
  }
  const parsed = CurrentPolicy.safeParse(raw);
  if (!parsed.success) throw new PolicyInvalidError(problems(parsed.error));
  const gateModes: Record<string, GateMode> = {};
  for (const [name, gate] of Object.entries(parsed.data.gates ?? {})) {
    gateModes[arbiterGateName(name)] = gate.enabled === false ? 'skip' : (gate.mode ?? 'block');
  }
  const commands = Object.entries(parsed.data.gates ?? {}).flatMap(([name, g]) =>
    g.command && g.enabled !== false ? [{ name, argv: g.command }] : [],
  );
  const badNames = commands.flatMap(({ name }) => {
    const problem = GATE_NAME_PATTERN.test(name)
      ? reservedGateNameProblem(name)
      : 'a gate with a command must have a short identifier for a name';
    return problem ? [`gates.${name}: ${problem}`] : [];
  });
  if (badNames.length) throw new PolicyInvalidError(badNames);
  const guarded = enforceablePaths(parsed.data.arbiter?.protected ?? [], (i) => `arbiter.protected.${i}`);
  const declaredInputs = parsed.data.arbiter?.setup?.inputs;
  const inputs = enforceablePaths(declaredInputs ?? [], (i) => `arbiter.setup.inputs.${i}`);
  if (guarded.problems.length || inputs.problems.length)
    throw new PolicyInvalidError([...guarded.problems, ...inputs.problems]);
  const quorums = [parsed.data.waivers, parsed.data.edit_rules].flatMap((r) => r?.min_approvers_for_budget_raise ?? []);
  const raise = quorums.length ? Math.max(...quorums) : undefined;
  return {
    source: 'current',
    tiers: tiersFrom((t) => parsed.data.risk_tiers?.[t]),
    allowSymlinks: parsed.data.arbiter?.allow_symlinks ?? false,
    gateModes,
    // A policy may ask for more approvers than the tier default, never fewer than tier 1's two.
    waivers: {
      enabled: parsed.data.waivers !== undefined,
      minApprovers: raise ? { 1: Math.max(raise, DEFAULT_TIER_POLICY[1].approvers), 2: raise, 3: raise } : {},
      windowHours: parsed.data.waivers?.decision_window_hours ?? 24,
      maxExpiryDays: parsed.data.waivers?.max_expiry_days ?? MAX_WAIVER_DAYS,
    },
    commands,
    maxAttempts: parsed.data.arbiter?.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    ...routingCostOf(parsed.data.arbiter?.routing_cost),
    ...candidatesOf(parsed.data.arbiter?.candidates),
    ...(parsed.data.arbiter?.setup ? { setup: setupOf(parsed.data.arbiter) } : {}),
    ...(guarded.globs.length ? { protectedPaths: guarded.globs } : {}),
    ...(declaredInputs ? { setupInputs: inputs.globs } : {}),
  };
}

/**
 * Submitter gates whose names the policy's gates use, each with why it is refused: the
 * repository's gate always runs, and a same-named submitter gate would read as if it were it.
 */
export function gateNameClashes(gates: ReadonlyArray<{ name: string }>, policy: RepoPolicy): string[] {
  const taken = new Set(policy.commands.map((c) => c.name.toLowerCase()));
  return gates
    .filter((g) => taken.has(g.name.toLowerCase()))
    .map((g) => `'${g.name}' is the repository policy's gate of that name, which always runs`);
}

/** What {@link policyRefusals} reads of a spec; `hasContract` is unknown for runs recorded before it was kept. */
export interface SpecTierFacts {
  riskTier: RiskTier;
  mode: string;
  hasContract?: boolean;
}

/**
 * What the repository's legacy tier policy refuses in the spec itself: a mode its tier does not
 * allow, no contract where the tier needs one. Nothing an agent does changes these, so a run
 * stops on them before routing, and the spec gate fails on them for a run that did not.
 */
export function policyRefusals(spec: SpecTierFacts, policy: Pick<RepoPolicy, 'tierRules'>): string[] {
  const rules = policy.tierRules?.[spec.riskTier];
  const refused: string[] = [];
  if (rules?.allowedModes && !rules.allowedModes.includes(spec.mode))
    refused.push(
      `mode '${printable(spec.mode)}' is not one tier ${spec.riskTier} allows (${rules.allowedModes.map(printable).join(', ')})`,
    );
  if (rules?.requiresContracts && spec.hasContract === false)
    refused.push(`tier ${spec.riskTier} requires a contract (one that names something)`);
  return refused;
}
