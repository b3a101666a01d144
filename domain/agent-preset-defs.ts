/**
 * The six CLIs Arbiter knows how to drive, each as its documented non-interactive use: what to
 * run, how the prompt reaches it, what to turn off, and where it finds its model. Claude Code
 * and Codex CLI are proven end to end against the fake model servers in the sandbox
 * (test/agents); the others are written from their documentation and marked `tested: false`.
 * Values may use `{gateway:<upstream>}`, `{token}` and `{home}`; argv may use `{prompt}`.
 */
import type { CommandConfig } from './agent';
import type { AgentPresetName } from './agent-presets';

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
  /** Run end to end in the sandbox against the fake models by test/agents. */
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
const venvOf = (binary: string) => [parentDir(parentDir(binary))];
const modelArgs = (flag: string, model: string | undefined) => (model ? [flag, model] : []);
/** litellm (aider, mini-swe-agent) fetches a price list from the internet at import unless told not to. */
const LITELLM_OFFLINE = { LITELLM_LOCAL_MODEL_COST_MAP: 'True' };

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
    env: { OPENAI_API_KEY: '{token}' },
    homeFiles: { '.codex/config.toml': codexToml(model) },
  }),
};

const aider: PresetDefinition = {
  name: 'aider',
  title: 'aider',
  program: 'aider',
  nodeModulesBinaries: () => [],
  install: 'python3 -m venv /opt/aider && /opt/aider/bin/pip install aider-chat (then --binary /opt/aider/bin/aider)',
  upstream: {
    name: 'openai',
    protocol: 'openai-chat',
    baseUrl: 'https://api.openai.com/v1',
    apiKeyEnv: 'OPENAI_API_KEY',
  },
  modelRequired: true,
  modelExample: 'gpt-5.5',
  tested: false,
  toolDirsFor: venvOf,
  command: ({ binary, model }) => ({
    // --no-git: a repository aider created in the workspace would be refused by the tree gate.
    argv: [
      binary,
      '--yes-always',
      '--no-git',
      '--no-auto-commits',
      '--no-check-update',
      '--analytics-disable',
      '--no-show-release-notes',
      '--no-show-model-warnings',
      '--no-pretty',
      '--no-fancy-input',
      '--model',
      `openai/${model}`,
      '--message',
      '{prompt}',
    ],
    promptVia: 'arg',
    env: {
      OPENAI_API_BASE: '{gateway:openai}',
      OPENAI_API_KEY: '{token}',
      // Its history files would otherwise land in the workspace and in the diff.
      AIDER_CHAT_HISTORY_FILE: '{home}/.aider.chat.history.md',
      AIDER_INPUT_HISTORY_FILE: '{home}/.aider.input.history',
      ...LITELLM_OFFLINE,
    },
    homeFiles: {},
  }),
};

const opencodeJson = (model: string | undefined) =>
  `${JSON.stringify(
    {
      $schema: 'https://opencode.ai/config.json',
      autoupdate: false,
      share: 'disabled',
      model: `arbiter/${model}`,
      permission: { edit: 'allow', bash: 'allow', webfetch: 'deny' },
      provider: {
        arbiter: {
          npm: '@ai-sdk/openai-compatible',
          name: 'Arbiter model gateway',
          options: { baseURL: '{gateway:openai}', apiKey: '{env:OPENAI_API_KEY}' },
          models: { [String(model)]: {} },
        },
      },
    },
    null,
    2,
  )}\n`;

const opencode: PresetDefinition = {
  name: 'opencode',
  title: 'opencode',
  program: 'opencode',
  nodeModulesBinaries: (arch) => [`opencode-linux-${arch}/bin/opencode`],
  install: 'npm install --save-exact opencode-ai (a native binary); ripgrep in /usr/bin (it downloads one otherwise)',
  upstream: {
    name: 'openai',
    protocol: 'openai-chat',
    baseUrl: 'https://api.openai.com/v1',
    apiKeyEnv: 'OPENAI_API_KEY',
  },
  modelRequired: true,
  modelExample: 'gpt-5.5',
  tested: false,
  toolDirsFor: (binary) => [parentDir(binary)],
  command: ({ binary, model }) => ({
    argv: [binary, 'run', '{prompt}'],
    promptVia: 'arg',
    env: {
      OPENAI_API_KEY: '{token}',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    },
    homeFiles: { '.config/opencode/opencode.json': opencodeJson(model) },
  }),
};

const geminiCli: PresetDefinition = {
  name: 'gemini-cli',
  title: 'Gemini CLI',
  program: 'gemini',
  nodeModulesBinaries: () => [],
  install: 'npm install -g @google/gemini-cli (node ≥ 20; /usr/bin/node is in the sandbox)',
  // Google's generateContent API; gemini-cli has no OpenAI-compatible mode.
  upstream: {
    name: 'gemini',
    protocol: 'google-gemini',
    baseUrl: 'https://generativelanguage.googleapis.com',
    apiKeyEnv: 'GEMINI_API_KEY',
  },
  modelRequired: false,
  modelExample: 'gemini-2.5-pro',
  tested: false,
  toolDirsFor: (binary) => [parentDir(binary)],
  command: ({ binary, model }) => ({
    argv: [binary, '--yolo', ...modelArgs('--model', model)],
    promptVia: 'stdin',
    env: { GOOGLE_GEMINI_BASE_URL: '{gateway:gemini}', GEMINI_API_KEY: '{token}', GEMINI_CLI_NO_RELAUNCH: 'true' },
    homeFiles: {
      '.gemini/settings.json': `${JSON.stringify({
        security: { auth: { selectedType: 'gemini-api-key' } },
        general: { disableAutoUpdate: true, disableUpdateNag: true },
        privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false },
      })}\n`,
    },
  }),
};

const miniSweAgent: PresetDefinition = {
  name: 'mini-swe-agent',
  title: 'mini-swe-agent',
  program: 'mini',
  nodeModulesBinaries: () => [],
  install: 'python3 -m venv /opt/mini && /opt/mini/bin/pip install mini-swe-agent (then --binary /opt/mini/bin/mini)',
  upstream: {
    name: 'openai',
    protocol: 'openai-chat',
    baseUrl: 'https://api.openai.com/v1',
    apiKeyEnv: 'OPENAI_API_KEY',
  },
  modelRequired: true,
  modelExample: 'gpt-5.5',
  tested: false,
  toolDirsFor: venvOf,
  command: ({ binary, model }) => ({
    argv: [binary, '--yolo', '--exit-immediately', '--model', `openai/${model}`, '--task', '{prompt}'],
    promptVia: 'arg',
    env: {
      MSWEA_CONFIGURED: 'true',
      // litellm has no price for a model it does not know; without this every call is an error.
      MSWEA_COST_TRACKING: 'ignore_errors',
      OPENAI_API_BASE: '{gateway:openai}',
      OPENAI_API_KEY: '{token}',
      ...LITELLM_OFFLINE,
    },
    homeFiles: {},
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
