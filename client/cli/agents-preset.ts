/**
 * `agents add --preset NAME`: a real coding-agent CLI registered from its preset, so the
 * operator chooses only what is theirs to choose (model, upstream, key variable, budgets,
 * binary) and never writes approval, telemetry or gateway flags by hand.
 */
import { z } from 'zod';
import {
  AGENT_PRESETS,
  buildPresetConfig,
  isPresetName,
  presetDefinition,
  PresetError,
} from '../../domain/agent-presets';
import type { CommandConfig } from '../../domain/agent';
import { BinaryNotFoundError, findPresetBinary } from '../agent-binaries';
import { projectRoot } from '../paths';
import { UsageError } from './output';

const positiveNumber = (flag: string) =>
  z.coerce.number({ invalid_type_error: `${flag} must be a number` }).positive(`${flag} must be positive`);

const nonNegativeNumber = (flag: string) =>
  z.coerce.number({ invalid_type_error: `${flag} must be a number` }).nonnegative(`${flag} must not be negative`);

/** The upstream's prices from the two flags, which go together. */
function pricingOf(o: { inputUsdPerMillion?: number; outputUsdPerMillion?: number }) {
  const { inputUsdPerMillion: input, outputUsdPerMillion: output } = o;
  if (input === undefined && output === undefined) return undefined;
  if (input === undefined || output === undefined)
    throw new UsageError('--input-usd-per-million and --output-usd-per-million go together');
  return { inputPerMillion: input, outputPerMillion: output };
}

/** The preset options as commander hands them over (strings), parsed. */
export const PresetCliOptionsSchema = z.object({
  preset: z.string().min(1),
  kind: z
    .literal('command', { errorMap: () => ({ message: '--preset registers a command agent; drop --kind' }) })
    .optional(),
  model: z.string().min(1).optional(),
  upstream: z.string().url('--upstream must be a URL such as https://api.anthropic.com').optional(),
  keyEnv: z.string().optional(),
  maxTokens: positiveNumber('--max-tokens').int('--max-tokens must be an integer').optional(),
  maxCostUsd: positiveNumber('--max-cost-usd').optional(),
  inputUsdPerMillion: nonNegativeNumber('--input-usd-per-million').optional(),
  outputUsdPerMillion: nonNegativeNumber('--output-usd-per-million').optional(),
  maxWallClockSeconds: positiveNumber('--max-wall-clock-seconds').int().optional(),
  binary: z.string().min(1).optional(),
  toolDir: z.array(z.string()).optional(),
  allowModel: z.array(z.string()).optional(),
  config: z.undefined({ errorMap: () => ({ message: '--preset builds the config; drop --config' }) }),
  configFile: z.undefined({ errorMap: () => ({ message: '--preset builds the config; drop --config-file' }) }),
});

/** What a preset registration resolved to, for the command's output. */
export interface PresetRegistration {
  config: CommandConfig;
  /** Said on stderr: the registration works but needs attention. */
  warnings: string[];
}

/** Builds the config for `agents add --preset …`; bad usage (unknown preset, bad option) is a UsageError. */
export function presetRegistration(raw: Record<string, unknown>): PresetRegistration {
  const parsed = PresetCliOptionsSchema.safeParse(raw);
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
  const o = parsed.data;
  if (!isPresetName(o.preset))
    throw new UsageError(`unknown preset '${o.preset}'; presets: ${AGENT_PRESETS.join(', ')}`);
  const def = presetDefinition(o.preset);
  const warnings: string[] = [];
  let binary: string | undefined;
  try {
    binary = findPresetBinary(def, { binary: o.binary, root: projectRoot() })?.path;
  } catch (err) {
    if (err instanceof BinaryNotFoundError) throw new UsageError(err.message);
    throw err;
  }
  if (!binary)
    warnings.push(
      `${def.program} is not installed here (${def.install}); the agent will run '${def.program}' from the sandbox's PATH (/usr/local/bin:/usr/bin:/bin) — pass --binary PATH for an installation elsewhere`,
    );
  if (!def.tested) warnings.push(`${def.title} is configured from its documentation and untested end to end`);
  try {
    const config = buildPresetConfig(o.preset, {
      model: o.model,
      upstreamUrl: o.upstream,
      keyEnv: o.keyEnv,
      maxTokens: o.maxTokens,
      maxCostUsd: o.maxCostUsd,
      pricing: pricingOf(o),
      models: o.allowModel,
      maxWallClockSeconds: o.maxWallClockSeconds,
      binary,
      toolDirs: o.toolDir,
    });
    return { config, warnings };
  } catch (err) {
    if (err instanceof PresetError || err instanceof z.ZodError) throw new UsageError((err as Error).message);
    throw err;
  }
}
