/**
 * The agent registry's model. Config is validated per kind with zod so a bad registration is
 * refused at `agents add`, not discovered mid-task; secrets are referenced by environment
 * variable name only and so never stored.
 */
import { literalSecretProblems } from './literal-secrets';
import { zodProblems } from './zod-issues';
import { z } from 'zod';
import { IdPartSchema } from './task';
import { plainUpstreamUrl } from './upstream-url';

/** Kinds Arbiter can run. */
export const AGENT_KINDS = ['scripted', 'command', 'openai'] as const;
/** An agent kind. */
export type AgentKind = (typeof AGENT_KINDS)[number];

/** Registry status; only `active` agents are routed to. */
export const AGENT_STATUSES = ['active', 'paused', 'retired'] as const;
/** A registry status. */
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** What an agent can do; an empty list means "any". */
export const CapabilitiesSchema = z
  .object({
    taskTypes: z.array(z.string().min(1)).default([]),
    languages: z.array(z.string().min(1)).default([]),
    tags: z.array(z.string().min(1)).default([]),
  })
  .strict();
/** Parsed capabilities. */
export type Capabilities = z.output<typeof CapabilitiesSchema>;

const relativePath = z.string().min(1).max(4096);

/** One deterministic edit in a scripted plan. */
const ScriptedStepSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('write'), path: relativePath, content: z.string() }).strict(),
  z.object({ op: z.literal('replace'), path: relativePath, search: z.string().min(1), replace: z.string() }).strict(),
  z.object({ op: z.literal('delete'), path: relativePath }).strict(),
  z
    .object({
      op: z.literal('run'),
      argv: z.array(z.string().min(1)).min(1, 'run needs a program'),
      timeoutSeconds: z.number().int().positive().max(3600).default(300),
    })
    .strict(),
]);
/** A scripted step. */
export type ScriptedStep = z.output<typeof ScriptedStepSchema>;

/** Config of the `scripted` kind: the plan applied to every task it gets. */
export const ScriptedConfigSchema = z
  .object({
    steps: z.array(ScriptedStepSchema).min(1, 'a scripted plan needs at least one step'),
    /** Applied on a retry instead of `steps`, on top of the change that failed; absent, `steps` again. */
    retrySteps: z.array(ScriptedStepSchema).min(1).optional(),
  })
  .strict();

/** A registration as given to `agents add`. */
export const AgentRegistrationSchema = z.object({
  id: IdPartSchema,
  name: z.string().min(1).max(200).optional(),
  tenantId: IdPartSchema.optional(),
  kind: z.enum(AGENT_KINDS),
  config: z.record(z.unknown()).default({}),
  capabilities: CapabilitiesSchema.default({}),
  maxConcurrency: z.number().int().min(1).max(1000).default(1),
});
/** Registration input. */
export type AgentRegistration = z.input<typeof AgentRegistrationSchema>;

/** Environment variable names: API keys are referenced, never stored. */
const EnvName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name (the key itself is never stored)');

/**
 * Why a deny list: the gateway sends the named variable's value to the upstream, so a
 * registration must not be able to name the worker's own secrets (its database, Temporal and
 * signing settings) and have them posted to a URL it also chose.
 */
export const KeyEnvName = EnvName.refine(
  (name) => !/^(ARBITER_|TEMPORAL_|DATABASE_URL|PG)/.test(name),
  "must name the model's key, not one of the worker's own settings (ARBITER_*, TEMPORAL_*, DATABASE_URL*, PG*)",
);

/** The wire protocols the model gateway speaks; each allows only its own request paths. */
export const GATEWAY_PROTOCOLS = ['anthropic-messages', 'openai-chat', 'openai-responses'] as const;
/** A gateway protocol. */
export type GatewayProtocol = (typeof GATEWAY_PROTOCOLS)[number];

/** USD per million tokens, for the cost recorded per model call. */
export const PricingSchema = z
  .object({
    inputPerMillion: z.number().nonnegative(),
    outputPerMillion: z.number().nonnegative(),
    /** Input read from the prompt cache (Anthropic cache reads, OpenAI cached tokens); absent, the input price. */
    cachedInputPerMillion: z.number().nonnegative().optional(),
    /** Anthropic five-minute cache writes; absent, 1.25 times the input price. */
    cacheWritePerMillion: z.number().nonnegative().optional(),
    /** Anthropic one-hour cache writes, and writes whose duration the reply does not give; absent, twice the input price. */
    longCacheWritePerMillion: z.number().nonnegative().optional(),
    /** The whole call's prices scale by these factors when its input passes `aboveInputTokens` (long-context pricing). */
    longContext: z
      .object({
        aboveInputTokens: z.number().int().positive(),
        inputFactor: z.number().min(1),
        outputFactor: z.number().min(1),
      })
      .strict()
      .optional(),
  })
  .strict();
/** An upstream's prices, in USD per million tokens. */
export type Pricing = z.output<typeof PricingSchema>;

/** A model endpoint's base URL (domain/upstream-url.ts). */
function upstreamUrl(example: string) {
  return z.string().url(`baseUrl must be a URL such as ${example}`).refine(plainUpstreamUrl, {
    message: 'baseUrl must be a plain http(s) URL, without a query, fragment, credentials or backslash',
  });
}

/**
 * One model endpoint an agent may reach through the gateway, at `{gateway:<name>}`. The real
 * key is read from `apiKeyEnv` on the worker and added by the gateway on the way out; the agent
 * only ever holds its per-task token.
 */
export const GatewayUpstreamSchema = z
  .object({
    name: IdPartSchema,
    protocol: z.enum(GATEWAY_PROTOCOLS),
    baseUrl: upstreamUrl('https://api.anthropic.com'),
    apiKeyEnv: KeyEnvName.optional(),
    pricing: PricingSchema.optional(),
    /** The models a request may name; absent, any. One price holds for all of them. */
    models: z.array(z.string().min(1).max(200)).min(1).max(50).optional(),
  })
  .strict();
/** A parsed upstream. */
export type GatewayUpstream = z.output<typeof GatewayUpstreamSchema>;

/** Limits the gateway enforces on one agent run; the agent is stopped, with the reason, past any of them. */
export const GatewayBudgetsSchema = z
  .object({
    maxTokens: z.number().int().positive().optional(),
    maxCostUsd: z.number().positive().optional(),
    maxWallClockSeconds: z.number().int().positive().optional(),
  })
  .strict();
/** Parsed gateway budgets. */
export type GatewayBudgets = z.output<typeof GatewayBudgetsSchema>;

/** Where an agent's model traffic may go and how much it may spend. */
export const GatewayConfigSchema = z
  .object({
    upstreams: z
      .array(GatewayUpstreamSchema)
      .min(1, 'the gateway needs at least one upstream')
      .refine((u) => new Set(u.map((x) => x.name)).size === u.length, 'upstream names must be unique'),
    budgets: GatewayBudgetsSchema.default({}),
  })
  .strict();
/** Parsed gateway config. */
export type GatewayConfig = z.output<typeof GatewayConfigSchema>;

/** A host path as registrations name them: absolute, without `.` or `..` segments. */
export const AbsolutePathSchema = z
  .string()
  .regex(/^\/(?!.*(^|\/)\.\.?(\/|$))/, 'must be an absolute path without . or .. segments');

/**
 * Config of the `command` kind: any coding-agent CLI run in the sandbox. The task prompt
 * reaches it on stdin, in ARBITER_PROMPT, or in place of a `{prompt}` argument. `env` and
 * `homeFiles` values may use `{gateway:<upstream>}` (the upstream's base URL inside the
 * sandbox), `{token}` (the run's gateway token) and `{home}` (the private HOME).
 */
export const CommandConfigSchema = z
  .object({
    argv: z.array(z.string().min(1)).min(1, 'argv must name a program'),
    promptVia: z.enum(['stdin', 'env', 'arg']).default('stdin'),
    timeoutSeconds: z
      .number()
      .int()
      .positive()
      .max(6 * 3600)
      .default(1800),
    /** Non-secret environment: a key of a known shape is refused (literal-secrets.ts), a worker secret's value at run time. */
    env: z
      .record(
        EnvName,
        z
          .string()
          .max(10_000)
          .refine((v) => !v.includes('\0'), 'holds a NUL: no environment value can'),
      )
      .default({}),
    /** Files written under the private HOME before the agent starts (its own config). */
    homeFiles: z.record(relativePath, z.string().max(100_000)).default({}),
    /** Host directories (the CLI's installation) bound read-only at the same path. */
    toolDirs: z.array(AbsolutePathSchema).max(16).default([]),
    gateway: GatewayConfigSchema.optional(),
    /** The preset this was built from, for `agents list` and `doctor`. */
    preset: z.string().min(1).max(64).optional(),
  })
  .strict()
  .refine(
    (c) => c.promptVia !== 'arg' || c.argv.some((a) => a.includes('{prompt}')),
    'promptVia arg needs a {prompt} placeholder in argv',
  );
/** Parsed command config. */
export type CommandConfig = z.output<typeof CommandConfigSchema>;

/** Config of the `openai` kind: an OpenAI-compatible chat-completions endpoint with tool calling. */
export const OpenAIConfigSchema = z
  .object({
    baseUrl: upstreamUrl('http://localhost:11434/v1'),
    model: z.string().min(1),
    apiKeyEnv: KeyEnvName.optional(),
    systemPrompt: z.string().max(20_000).optional(),
    temperature: z.number().min(0).max(2).optional(),
    maxTurns: z.number().int().positive().max(500).default(30),
    maxTokens: z.number().int().positive().default(200_000),
    maxWallClockSeconds: z.number().int().positive().default(1800),
    requestTimeoutSeconds: z.number().int().positive().max(3600).default(300),
    /** USD per million tokens, for the cost recorded per turn. */
    pricing: PricingSchema.optional(),
  })
  .strict();
/** Parsed openai config. */
export type OpenAIConfig = z.output<typeof OpenAIConfigSchema>;

const CONFIG_SCHEMAS: Record<AgentKind, z.ZodTypeAny> = {
  scripted: ScriptedConfigSchema,
  command: CommandConfigSchema,
  openai: OpenAIConfigSchema,
};

/**
 * Checks kind-specific config; returns every problem, empty when valid. A cost budget over an
 * upstream without prices is refused here, at registration: the gateway could never count it,
 * so the operator would believe in a limit that does not exist. (Runs of agents registered
 * before keep their config as it was.)
 */
export function agentConfigProblems(kind: AgentKind, config: unknown): string[] {
  const parsed = CONFIG_SCHEMAS[kind].safeParse(config);
  if (!parsed.success) return zodProblems(parsed.error, { prefix: 'config' });
  const literal = literalSecretProblems(parsed.data);
  return kind === 'command' ? [...literal, ...unpricedCostBudget((parsed.data as CommandConfig).gateway)] : literal;
}

function unpricedCostBudget(gateway: GatewayConfig | undefined): string[] {
  if (gateway?.budgets.maxCostUsd === undefined) return [];
  const unpriced = gateway.upstreams.filter((u) => !u.pricing).map((u) => `'${u.name}'`);
  if (!unpriced.length) return [];
  return [
    `config.gateway.budgets.maxCostUsd: the gateway counts cost only from an upstream's pricing, and ${unpriced.join(', ')} has none; give it pricing (inputPerMillion, outputPerMillion in USD) or drop the cost budget`,
  ];
}

/**
 * How long one run of the agent may take by its own config, in seconds: a `command` agent's
 * wall-clock limit, a `scripted` plan's command steps' limits added up. Undefined for `openai`
 * (each turn is its own activity) and for a config that does not parse (its run fails at once).
 */
export function agentRunSeconds(kind: string, config: unknown): number | undefined {
  if (kind === 'command') {
    const parsed = CommandConfigSchema.safeParse(config);
    return parsed.success ? parsed.data.timeoutSeconds : undefined;
  }
  if (kind !== 'scripted') return undefined;
  const parsed = ScriptedConfigSchema.safeParse(config);
  if (!parsed.success) return undefined;
  return parsed.data.steps.reduce((sum, step) => sum + (step.op === 'run' ? step.timeoutSeconds : 0), 0);
}

/** True when the agent claims the task type (or claims any). */
export function canHandleTaskType(capabilities: Capabilities, taskType: string): boolean {
  return (
    capabilities.taskTypes.length === 0 ||
    capabilities.taskTypes.includes('*') ||
    capabilities.taskTypes.includes(taskType)
  );
}
