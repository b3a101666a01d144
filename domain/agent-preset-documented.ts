/**
 * The presets written from their CLIs' documentation, not (yet) run end to end here: aider,
 * opencode and mini-swe-agent over OpenAI-compatible chat completions, and Gemini CLI, which
 * speaks Google's own API and so waits for a gateway protocol. Each is `tested: false`, which
 * `agents add` and `doctor` say out loud.
 */
import {
  GATEWAY_DIRECT,
  LITELLM_OFFLINE,
  modelArgs,
  parentDir,
  venvOf,
  type PresetDefinition,
} from './agent-preset-types';

/** The upstream every documented OpenAI-compatible preset defaults to. */
const OPENAI_CHAT: PresetDefinition['upstream'] = {
  name: 'openai',
  protocol: 'openai-chat',
  baseUrl: 'https://api.openai.com/v1',
  apiKeyEnv: 'OPENAI_API_KEY',
};

export const aider: PresetDefinition = {
  name: 'aider',
  title: 'aider',
  program: 'aider',
  nodeModulesBinaries: () => [],
  install: 'python3 -m venv /opt/aider && /opt/aider/bin/pip install aider-chat (then --binary /opt/aider/bin/aider)',
  upstream: OPENAI_CHAT,
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
      ...GATEWAY_DIRECT,
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

export const opencode: PresetDefinition = {
  name: 'opencode',
  title: 'opencode',
  program: 'opencode',
  nodeModulesBinaries: (arch) => [`opencode-linux-${arch}/bin/opencode`],
  install: 'npm install --save-exact opencode-ai (a native binary); ripgrep in /usr/bin (it downloads one otherwise)',
  upstream: OPENAI_CHAT,
  modelRequired: true,
  modelExample: 'gpt-5.5',
  tested: false,
  toolDirsFor: (binary) => [parentDir(binary)],
  command: ({ binary, model }) => ({
    argv: [binary, 'run', '{prompt}'],
    promptVia: 'arg',
    env: {
      ...GATEWAY_DIRECT,
      OPENAI_API_KEY: '{token}',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    },
    homeFiles: { '.config/opencode/opencode.json': opencodeJson(model) },
  }),
};

export const geminiCli: PresetDefinition = {
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
    env: {
      ...GATEWAY_DIRECT,
      GOOGLE_GEMINI_BASE_URL: '{gateway:gemini}',
      GEMINI_API_KEY: '{token}',
      GEMINI_CLI_NO_RELAUNCH: 'true',
    },
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

export const miniSweAgent: PresetDefinition = {
  name: 'mini-swe-agent',
  title: 'mini-swe-agent',
  program: 'mini',
  nodeModulesBinaries: () => [],
  install: 'python3 -m venv /opt/mini && /opt/mini/bin/pip install mini-swe-agent (then --binary /opt/mini/bin/mini)',
  upstream: OPENAI_CHAT,
  modelRequired: true,
  modelExample: 'gpt-5.5',
  tested: false,
  toolDirsFor: venvOf,
  command: ({ binary, model }) => ({
    argv: [binary, '--yolo', '--exit-immediately', '--model', `openai/${model}`, '--task', '{prompt}'],
    promptVia: 'arg',
    env: {
      ...GATEWAY_DIRECT,
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
