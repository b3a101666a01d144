/**
 * The six CLIs Arbiter knows how to drive, each as its documented non-interactive use: what to
 * run, how the prompt reaches it, what to turn off, and where it finds its model. Claude Code
 * and Codex CLI are proven end to end against the fake model servers in the sandbox
 * (test/gateway/real-agents); the others are written from their documentation and marked `tested: false`.
 * Values may use `{gateway:<upstream>}`, `{token}` and `{home}`; argv may use `{prompt}`.
 */
import type { AgentPresetName } from './agent-preset-types';
import { aider, geminiCli, miniSweAgent, opencode } from './agent-preset-documented';
import { GATEWAY_DIRECT, modelArgs, parentDir, type PresetDefinition } from './agent-preset-types';

export { parentDir, type PresetDefinition } from './agent-preset-types';

const claudeCode: PresetDefinition = {
  name: 'claude-code',
  title: 'Claude Code',
  program: 'claude',
  nodeModulesBinaries: (arch) => [`@anthropic-ai/claude-code-linux-${arch}/claude`],
  install: 'npm install --save-exact @anthropic-ai/claude-code (a native binary, no node needed at run time)',
  upstream: {
    name: 'anthropic',
    protocol: 'anthropic-messages',
    baseUrl: 'https://api.anthropic.com',
    apiKeyEnv: 'ANTHROPIC_API_KEY',
  },
  modelRequired: false,
  modelExample: 'claude-sonnet-4-6',
  tested: true,
  toolDirsFor: (binary) => [parentDir(binary)],
  command: ({ binary, model }) => ({
    argv: [binary, '-p', '--dangerously-skip-permissions', '--no-session-persistence', ...modelArgs('--model', model)],
    promptVia: 'stdin',
    env: {
      ...GATEWAY_DIRECT,
      ANTHROPIC_BASE_URL: '{gateway:anthropic}',
      ANTHROPIC_API_KEY: '{token}',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
    },
    homeFiles: {},
  }),
};

const codexToml = (model: string | undefined) =>
  [
    ...(model ? [`model = ${JSON.stringify(model)}`] : []),
    'model_provider = "arbiter"',
    'approval_policy = "never"',
    'sandbox_mode = "danger-full-access"',
    'check_for_update_on_startup = false',
    // A server-side tool would reach the web from the upstream, past the gateway, which refuses it.
    'web_search = "disabled"',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[feedback]',
    'enabled = false',
    '',
    '[history]',
    'persistence = "none"',
    '',
    '[model_providers.arbiter]',
    'name = "Arbiter model gateway"',
    'base_url = "{gateway:openai}"',
    'env_key = "OPENAI_API_KEY"',
    'wire_api = "responses"',
    '',
  ].join('\n');

const codex: PresetDefinition = {
  name: 'codex',
  title: 'Codex CLI',
  program: 'codex',
  nodeModulesBinaries: (arch) => {
    const triple = arch === 'arm64' ? 'aarch64-unknown-linux-musl' : 'x86_64-unknown-linux-musl';
    return [`@openai/codex-linux-${arch}/vendor/${triple}/bin/codex`];
  },
  install: 'npm install --save-exact @openai/codex (a static native binary under vendor/<triple>/bin)',
  upstream: {
    name: 'openai',
    protocol: 'openai-responses',
    baseUrl: 'https://api.openai.com/v1',
    apiKeyEnv: 'OPENAI_API_KEY',
  },
  modelRequired: false,
  modelExample: 'gpt-5.5',
  tested: true,
  // vendor/<triple>/{bin/codex, codex-path/rg, codex-resources}: the whole triple folder.
  toolDirsFor: (binary) =>
    /\/vendor\/[^/]+\/bin\/codex$/.test(binary) ? [parentDir(parentDir(binary))] : [parentDir(binary)],
  command: ({ binary, model }) => ({
    // Arbiter's workspace has its git data outside the tree, so Codex must not insist on a repository.
    argv: [
      binary,
      'exec',
      '--dangerously-bypass-approvals-and-sandbox',
      '--skip-git-repo-check',
      '--ephemeral',
      '--color',
      'never',
      '-',
    ],
    promptVia: 'stdin',
    env: { ...GATEWAY_DIRECT, OPENAI_API_KEY: '{token}' },
    homeFiles: { '.codex/config.toml': codexToml(model) },
  }),
};

/** Every definition by name. */
export const PRESET_DEFINITIONS: Record<AgentPresetName, PresetDefinition> = {
  'claude-code': claudeCode,
  codex,
  aider,
  opencode,
  'gemini-cli': geminiCli,
  'mini-swe-agent': miniSweAgent,
};
