/**
 * Presets turn "run Claude Code / Codex / aider … under Arbiter" into a `command` config an
 * operator does not have to get right by hand: the non-interactive flags, approval prompts
 * and the CLI's own sandbox off (Arbiter is the sandbox), telemetry and update checks off, the
 * model endpoint pointed at the gateway with the run's token instead of a key, and the HOME
 * files the CLI reads its settings from. The definitions are in agent-preset-defs.ts.
 */
import { z } from 'zod';
import {
  AbsolutePathSchema,
  CommandConfigSchema,
  KeyEnvName,
  PricingSchema,
  type CommandConfig,
  type GatewayBudgets,
  type GatewayProtocol,
} from './agent';
import { PRESET_DEFINITIONS, type PresetDefinition } from './agent-preset-defs';
import { AGENT_PRESETS, type AgentPresetName } from './agent-preset-types';

export { parentDir, type PresetDefinition } from './agent-preset-defs';

export { AGENT_PRESETS, type AgentPresetName } from './agent-preset-types';

/** What an operator may choose when registering a preset; everything else is the preset's. */
export const PresetOptionsSchema = z
  .object({
    model: z.string().min(1).max(200).optional(),
    /** The real upstream's base URL (the gateway forwards there), e.g. a proxy or a self-hosted endpoint. */
    upstreamUrl: z.string().url('the upstream must be a URL such as https://api.anthropic.com').optional(),
    /** The worker's variable holding the real key; the key never enters the sandbox. */
    keyEnv: KeyEnvName.optional(),
    maxTokens: z.number().int().positive().optional(),
    /** Counted only with `pricing`: the gateway knows a call's cost from the upstream's prices alone. */
    maxCostUsd: z.number().positive().optional(),
    maxWallClockSeconds: z.number().int().positive().optional(),
    /** The upstream's prices, USD per million input and output tokens; without them no cost budget holds. */
    pricing: PricingSchema.optional(),
    /** The models the CLI may ask the upstream for; absent, any (a CLI may use a second, smaller one). */
    models: z.array(z.string().min(1).max(200)).min(1).max(50).optional(),
    /** The CLI's binary as found on this worker (absolute); else the program name, found on the sandbox's PATH. */
    binary: AbsolutePathSchema.optional(),
    /** Host directories the CLI needs, bound read-only; default: derived from `binary`. */
    toolDirs: z.array(AbsolutePathSchema).max(16).optional(),
  })
  .strict();
/** Preset options as given. */
export type PresetOptions = z.input<typeof PresetOptionsSchema>;

/** Refused: the preset cannot be built (unknown, needs an option, or needs something Arbiter lacks). */
export class PresetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PresetError';
  }
}

/** True for a known preset name. */
export function isPresetName(name: string): name is AgentPresetName {
  return (AGENT_PRESETS as readonly string[]).includes(name);
}

/** The definition of `name`; unknown names are refused with the list. */
export function presetDefinition(name: string): PresetDefinition {
  if (!isPresetName(name)) throw new PresetError(`unknown preset '${name}'; presets: ${AGENT_PRESETS.join(', ')}`);
  return PRESET_DEFINITIONS[name];
}

/** Why `name` cannot run under Arbiter yet (a protocol the gateway lacks), or undefined when it can. */
export function presetUnsupportedReason(name: AgentPresetName): string | undefined {
  const def = PRESET_DEFINITIONS[name];
  if (isGatewayProtocol(def.upstream.protocol)) return undefined;
  return `${def.title} speaks ${def.upstream.protocol}, a protocol the model gateway does not support yet (${GATEWAY_PROTOCOL_LIST})`;
}

const GATEWAY_PROTOCOL_LIST = 'anthropic-messages, openai-chat, openai-responses';
function isGatewayProtocol(p: string): p is GatewayProtocol {
  return GATEWAY_PROTOCOL_LIST.split(', ').includes(p);
}

/** Folders already in the sandbox (the system is bound read-only) need no binding of their own. */
function needsBinding(dir: string): boolean {
  return dir !== '/' && !/^\/usr(\/|$)/.test(dir);
}

/** The tool folders a preset's config binds for `binary`: what `agents add --preset --binary` stores, and `doctor` checks. */
export function presetToolDirs(def: PresetDefinition, binary: string): string[] {
  return [...new Set(def.toolDirsFor(binary).filter(needsBinding))];
}

/** Budgets every preset starts from (the cost budget only with prices); an operator lowers or raises them per agent. */
export const DEFAULT_PRESET_BUDGETS: Required<GatewayBudgets> = {
  maxTokens: 4_000_000,
  maxCostUsd: 10,
  maxWallClockSeconds: 1800,
};

/**
 * The `command` config of preset `name` for these options, checked against the contract
 * (CommandConfigSchema), so what `agents add --preset` stores is what a hand-written config
 * would have to be.
 */
export function buildPresetConfig(name: string, raw: PresetOptions = {}): CommandConfig {
  const def = presetDefinition(name);
  const parsed = PresetOptionsSchema.safeParse(raw);
  if (!parsed.success)
    throw new PresetError(parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
  const o = parsed.data;
  const unsupported = presetUnsupportedReason(def.name);
  if (unsupported) throw new PresetError(unsupported);
  const model = o.model ?? def.defaultModel;
  if (def.modelRequired && !model)
    throw new PresetError(`${def.title} needs --model (the model name the upstream serves, e.g. ${def.modelExample})`);
  const binary = o.binary ?? def.program;
  const toolDirs = o.toolDirs ? o.toolDirs.filter(needsBinding) : o.binary ? presetToolDirs(def, o.binary) : [];
  if (o.maxCostUsd !== undefined && !o.pricing)
    throw new PresetError(
      "a cost budget needs the upstream's prices (--input-usd-per-million and --output-usd-per-million): without them the gateway cannot count cost",
    );
  const budgets = {
    maxTokens: o.maxTokens ?? DEFAULT_PRESET_BUDGETS.maxTokens,
    ...(o.pricing ? { maxCostUsd: o.maxCostUsd ?? DEFAULT_PRESET_BUDGETS.maxCostUsd } : {}),
    maxWallClockSeconds: o.maxWallClockSeconds ?? DEFAULT_PRESET_BUDGETS.maxWallClockSeconds,
  };
  const command = def.command({ binary, model });
  return CommandConfigSchema.parse({
    ...command,
    timeoutSeconds: budgets.maxWallClockSeconds,
    toolDirs: [...new Set(toolDirs)],
    gateway: {
      upstreams: [
        {
          name: def.upstream.name,
          protocol: def.upstream.protocol,
          baseUrl: o.upstreamUrl ?? def.upstream.baseUrl,
          apiKeyEnv: o.keyEnv ?? def.upstream.apiKeyEnv,
          ...(o.pricing ? { pricing: o.pricing } : {}),
          // The model the CLI is told to ask for is always one it may ask for.
          ...(o.models ? { models: [...new Set([...(model ? [model] : []), ...o.models])] } : {}),
        },
      ],
      budgets,
    },
    preset: def.name,
  });
}
