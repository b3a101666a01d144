/**
 * The shape of a preset definition and the small path helpers the definitions share (pure:
 * domain/ has no node:path).
 */
import type { CommandConfig } from './agent';

/** Every preset, by the name `agents add --preset` takes. */
export const AGENT_PRESETS = ['claude-code', 'codex', 'aider', 'opencode', 'gemini-cli', 'mini-swe-agent'] as const;
/** A preset name. */
export type AgentPresetName = (typeof AGENT_PRESETS)[number];

/** What a definition produces for one registration. */
export type PresetCommand = Pick<CommandConfig, 'argv' | 'promptVia' | 'env' | 'homeFiles'>;

/** One CLI. */
export interface PresetDefinition {
  name: AgentPresetName;
  title: string;
  /** The program name on PATH (and in node_modules/.bin). */
  program: string;
  /** Native binaries inside node_modules for an architecture (`x64`, `arm64`), preferred over a node wrapper. */
  nodeModulesBinaries: (arch: string) => string[];
  /** How an operator installs it on a worker. */
  install: string;
  upstream: { name: string; protocol: string; baseUrl: string; apiKeyEnv: string };
  defaultModel?: string;
  modelRequired: boolean;
  modelExample: string;
  /** Run end to end through the lifecycle against the fake models (test/gateway/real-agents). */
  tested: boolean;
  /** Host folders the installed binary needs at run time, bound read-only at the same path. */
  toolDirsFor: (binary: string) => string[];
  command: (o: { binary: string; model?: string }) => PresetCommand;
}

/** The parent folder of an absolute path (pure: no node:path in domain/). */
export function parentDir(p: string): string {
  const cut = p.replace(/\/+$/, '').lastIndexOf('/');
  return cut <= 0 ? '/' : p.slice(0, cut);
}

/** A Python console script lives in `<venv>/bin/`; the venv is what it needs. */
export const venvOf = (binary: string) => [parentDir(parentDir(binary))];
export const modelArgs = (flag: string, model: string | undefined) => (model ? [flag, model] : []);
/** litellm (aider, mini-swe-agent) fetches a price list from the internet at import unless told not to. */
export const LITELLM_OFFLINE = { LITELLM_LOCAL_MODEL_COST_MAP: 'True' };

/**
 * HTTP(S)_PROXY points at the relay too, which serves a model call sent through it as well;
 * calling the relay directly is one hop less, and both Claude Code and Codex would send even
 * loopback requests through the proxy unless NO_PROXY says otherwise.
 */
export const GATEWAY_DIRECT = { NO_PROXY: '127.0.0.1,localhost' };
