/**
 * Presets as pure data: every buildable preset yields a config the contract accepts, refers
 * only to upstreams it declares, expands to well-formed HOME files, and turns off what must be
 * off; operator options land where they should and nothing else is accepted.
 */
import assert from 'node:assert/strict';
import { CommandConfigSchema } from '../../domain/agent';
import { expandPlaceholders, expandRecord, gatewayReferences } from '../../domain/agent-placeholders';
import { AGENT_PRESETS, buildPresetConfig, PresetError, presetUnsupportedReason } from '../../domain/agent-presets';

const VALUES = {
  gateway: (name: string) => (['anthropic', 'openai'].includes(name) ? `http://127.0.0.1:4000/u/${name}/` : undefined),
  token: 'tok',
  home: '/home/agent',
};
const buildable = AGENT_PRESETS.filter((p) => !presetUnsupportedReason(p));

describe('agent presets', () => {
  it('every buildable preset is a valid command config naming only its own upstreams', () => {
    assert.deepEqual(buildable, ['claude-code', 'codex', 'aider', 'opencode', 'mini-swe-agent']);
    for (const name of buildable) {
      const c = buildPresetConfig(name, { model: 'm-1', binary: '/opt/x/bin/tool' });
      assert.ok(CommandConfigSchema.safeParse(c).success, name);
      assert.equal(c.preset, name);
      const declared = c.gateway!.upstreams.map((u) => u.name);
      const text = [...Object.values(c.env), ...Object.values(c.homeFiles)].join('\n');
      for (const ref of gatewayReferences(text)) assert.ok(declared.includes(ref), `${name} refers to ${ref}`);
      assert.ok(gatewayReferences(text).length > 0, `${name} reaches its model through the gateway`);
      assert.ok(text.includes('{token}'), `${name} authenticates with the run's token`);
      assert.equal(c.argv[0], '/opt/x/bin/tool');
      assert.equal(c.env.NO_PROXY, '127.0.0.1,localhost', `${name} reaches the loopback gateway past the relay proxy`);
    }
  });

  it('refuses a NUL in an environment value: it would end the value where bwrap reads it', () => {
    const c = buildPresetConfig('aider', { model: 'm-1', binary: '/opt/x/bin/tool' });
    const parsed = CommandConfigSchema.safeParse({ ...c, env: { ...c.env, EXTRA: 'a\0--bind' } });
    assert.equal(parsed.success, false);
    assert.match(JSON.stringify(parsed.error?.issues), /holds a NUL/);
  });

  it('expands the HOME files to well-formed configuration', () => {
    const codex = expandRecord(buildPresetConfig('codex', { model: 'gpt-5.5' }).homeFiles, VALUES);
    assert.match(codex['.codex/config.toml'], /^model = "gpt-5\.5"$/m);
    assert.match(codex['.codex/config.toml'], /^base_url = "http:\/\/127\.0\.0\.1:4000\/u\/openai"$/m);
    assert.match(codex['.codex/config.toml'], /^approval_policy = "never"$/m);
    const opencode = expandRecord(buildPresetConfig('opencode', { model: 'qwen3-coder' }).homeFiles, VALUES);
    const parsed = JSON.parse(opencode['.config/opencode/opencode.json']);
    assert.equal(parsed.model, 'arbiter/qwen3-coder');
    assert.equal(parsed.provider.arbiter.options.baseURL, 'http://127.0.0.1:4000/u/openai');
    assert.equal(parsed.provider.arbiter.options.apiKey, '{env:OPENAI_API_KEY}', "opencode's own syntax is left alone");
    assert.throws(() => expandPlaceholders('{gateway:gemini}', VALUES), /names no upstream/);
  });

  it('turns off approvals, telemetry and updates, and keeps the CLI off git in the workspace', () => {
    const claude = buildPresetConfig('claude-code');
    assert.ok(claude.argv.includes('--dangerously-skip-permissions'));
    assert.equal(claude.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
    assert.equal(claude.env.DISABLE_AUTOUPDATER, '1');
    const codex = buildPresetConfig('codex');
    assert.ok(codex.argv.includes('--dangerously-bypass-approvals-and-sandbox'));
    assert.ok(codex.argv.includes('--skip-git-repo-check'));
    assert.match(codex.homeFiles['.codex/config.toml'], /check_for_update_on_startup = false/);
    const aider = buildPresetConfig('aider', { model: 'gpt-5.5' });
    for (const flag of ['--yes-always', '--no-git', '--analytics-disable', '--no-check-update'])
      assert.ok(aider.argv.includes(flag), flag);
    assert.equal(aider.env.AIDER_CHAT_HISTORY_FILE, '{home}/.aider.chat.history.md');
  });

  it('takes the operator options: upstream, key variable, budgets, binary and tool folders', () => {
    const c = buildPresetConfig('codex', {
      upstreamUrl: 'http://localhost:11434/v1',
      keyEnv: 'LOCAL_KEY',
      maxTokens: 1000,
      maxCostUsd: 0.5,
      pricing: { inputPerMillion: 1.25, outputPerMillion: 10 },
      maxWallClockSeconds: 600,
      binary: '/srv/tools/codex/vendor/x86_64-unknown-linux-musl/bin/codex',
    });
    assert.deepEqual(c.gateway!.upstreams[0], {
      name: 'openai',
      protocol: 'openai-responses',
      baseUrl: 'http://localhost:11434/v1',
      apiKeyEnv: 'LOCAL_KEY',
      pricing: { inputPerMillion: 1.25, outputPerMillion: 10 },
    });
    assert.deepEqual(c.gateway!.budgets, { maxTokens: 1000, maxCostUsd: 0.5, maxWallClockSeconds: 600 });
    assert.equal(c.timeoutSeconds, 600);
    assert.deepEqual(c.toolDirs, ['/srv/tools/codex/vendor/x86_64-unknown-linux-musl']);
    // The system is in the sandbox already: nothing under /usr is bound again.
    assert.deepEqual(buildPresetConfig('claude-code', { binary: '/usr/local/bin/claude' }).toolDirs, []);
    assert.deepEqual(buildPresetConfig('aider', { model: 'm', binary: '/opt/aider/bin/aider' }).toolDirs, [
      '/opt/aider',
    ]);
    assert.deepEqual(buildPresetConfig('claude-code', { toolDirs: ['/a', '/b'] }).toolDirs, ['/a', '/b']);
  });

  it('refuses what it cannot build, saying why', () => {
    assert.throws(() => buildPresetConfig('cursor'), /unknown preset 'cursor'; presets: claude-code, codex/);
    assert.throws(
      () => buildPresetConfig('gemini-cli'),
      /google-gemini, a protocol the model gateway does not support/,
    );
    assert.throws(() => buildPresetConfig('opencode'), /opencode needs --model/);
    assert.throws(() => buildPresetConfig('codex', { keyEnv: 'sk-live-123' }), /environment variable name/);
    assert.throws(() => buildPresetConfig('codex', { binary: 'relative/codex' }), /absolute path/);
    assert.throws(() => buildPresetConfig('codex', { apiKey: 'x' } as never), PresetError);
    assert.throws(() => buildPresetConfig('codex', { maxCostUsd: 5 }), /a cost budget needs the upstream's prices/);
  });

  it('allows the model the CLI is told to ask for, whatever else the operator lists', () => {
    const c = buildPresetConfig('aider', { model: 'gpt-5.5', models: ['gpt-5.5-mini'] });
    assert.deepEqual(c.gateway!.upstreams[0].models, ['gpt-5.5', 'gpt-5.5-mini']);
    assert.equal(buildPresetConfig('aider', { model: 'gpt-5.5' }).gateway!.upstreams[0].models, undefined);
  });

  it('sets a cost budget only with prices: without them the gateway could not count one', () => {
    assert.deepEqual(buildPresetConfig('codex').gateway!.budgets, { maxTokens: 4_000_000, maxWallClockSeconds: 1800 });
    const priced = buildPresetConfig('codex', { pricing: { inputPerMillion: 1, outputPerMillion: 2 } });
    assert.equal(priced.gateway!.budgets.maxCostUsd, 10);
  });
});
