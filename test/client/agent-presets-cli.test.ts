/**
 * `arbiter agents add --preset` and `arbiter doctor`'s preset lines, through the real CLI
 * against the test stack: a preset registers a command agent whose config is the preset's
 * (binary found in node_modules, tool folders, gateway upstream, budgets), bad usage is
 * refused with exit 2 and the reason, and doctor says which presets can run here without
 * ever printing a key.
 */
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';
import { arbiter, cliEnv } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';

const NM = path.join(projectRoot(), 'node_modules');

/** A tenant of this file's own: the agents it registers must never be routed other suites' tasks. */
const TENANT = uniqueId('tenant');

async function add(args: string[], env: NodeJS.ProcessEnv = {}) {
  return arbiter(['agents', 'add', '--id', uniqueId('preset'), '--tenant', TENANT, ...args], { ...cliEnv(), ...env });
}

describe('agents add --preset', function () {
  this.timeout(120_000);

  it('registers Claude Code as a command agent with the native binary, its folder and the Anthropic upstream', async () => {
    const res = await add([
      '--preset',
      'claude-code',
      '--model',
      'claude-sonnet-4-6',
      '--max-tokens',
      '500000',
      '--json',
    ]);
    assert.equal(res.code, 0, res.stderr);
    const agent = JSON.parse(res.stdout);
    assert.equal(agent.kind, 'command');
    const c = agent.config;
    const native = realpathSync(path.join(NM, '@anthropic-ai', `claude-code-linux-${process.arch}`, 'claude'));
    assert.deepEqual(c.argv, [
      native,
      '-p',
      '--dangerously-skip-permissions',
      '--no-session-persistence',
      '--model',
      'claude-sonnet-4-6',
    ]);
    assert.equal(c.promptVia, 'stdin');
    assert.deepEqual(c.toolDirs, [path.dirname(native)]);
    assert.equal(c.env.ANTHROPIC_BASE_URL, '{gateway:anthropic}');
    assert.equal(c.env.ANTHROPIC_API_KEY, '{token}');
    assert.equal(c.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, '1');
    assert.deepEqual(c.gateway.upstreams, [
      {
        name: 'anthropic',
        protocol: 'anthropic-messages',
        baseUrl: 'https://api.anthropic.com',
        apiKeyEnv: 'ANTHROPIC_API_KEY',
      },
    ]);
    assert.deepEqual(c.gateway.budgets, { maxTokens: 500000, maxWallClockSeconds: 1800 }, 'no prices, no cost budget');
    assert.equal(c.preset, 'claude-code');
    assert.equal(res.stderr, '', 'a tested preset found on this machine registers without warnings');
    const list = await arbiter(['agents', 'list', '--tenant', TENANT], cliEnv());
    assert.match(list.stdout, new RegExp(`${agent.id}\\s+command .*preset claude-code`));
  });

  it('registers Codex CLI against another upstream and key variable, with its config.toml in HOME', async () => {
    const res = await add([
      '--preset',
      'codex',
      '--upstream',
      'https://llm-proxy.internal.example/v1',
      '--key-env',
      'TEAM_OPENAI_KEY',
      '--max-cost-usd',
      '2.5',
      '--input-usd-per-million',
      '1.25',
      '--output-usd-per-million',
      '10',
      '--allow-model',
      'gpt-5.5-mini',
      '--allow-model',
      'gpt-5.5',
      '--json',
    ]);
    assert.equal(res.code, 0, res.stderr);
    const c = JSON.parse(res.stdout).config;
    assert.match(
      c.argv[0],
      /\/vendor\/x86_64-unknown-linux-musl\/bin\/codex$|\/vendor\/aarch64-unknown-linux-musl\/bin\/codex$/,
    );
    assert.deepEqual(c.toolDirs, [path.dirname(path.dirname(c.argv[0]))]);
    assert.deepEqual(c.argv.slice(1), [
      'exec',
      '--dangerously-bypass-approvals-and-sandbox',
      '--skip-git-repo-check',
      '--ephemeral',
      '--color',
      'never',
      '-',
    ]);
    assert.match(c.homeFiles['.codex/config.toml'], /base_url = "\{gateway:openai\}"/);
    assert.match(c.homeFiles['.codex/config.toml'], /wire_api = "responses"/);
    assert.deepEqual(c.gateway.upstreams[0], {
      name: 'openai',
      protocol: 'openai-responses',
      baseUrl: 'https://llm-proxy.internal.example/v1',
      apiKeyEnv: 'TEAM_OPENAI_KEY',
      pricing: { inputPerMillion: 1.25, outputPerMillion: 10 },
      models: ['gpt-5.5-mini', 'gpt-5.5'],
    });
    assert.equal(c.gateway.budgets.maxCostUsd, 2.5);
  });

  it('refuses an unknown preset with the list, and bad combinations with the reason (exit 2)', async () => {
    const unknown = await add(['--preset', 'cursor']);
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /unknown preset 'cursor'; presets: claude-code, codex, aider, opencode, gemini-cli, mini-swe-agent/,
    );
    const gemini = await add(['--preset', 'gemini-cli']);
    assert.equal(gemini.code, 2);
    assert.match(gemini.stderr, /Gemini CLI speaks google-gemini, a protocol the model gateway does not support yet/);
    const noModel = await add(['--preset', 'aider']);
    assert.equal(noModel.code, 2);
    assert.match(noModel.stderr, /aider needs --model/);
    const badBinary = await add(['--preset', 'aider', '--model', 'gpt-5.5', '--binary', '/nonexistent/aider']);
    assert.equal(badBinary.code, 2);
    assert.match(badBinary.stderr, /--binary \/nonexistent\/aider: not an executable file/);
    const kind = await add(['--preset', 'codex', '--kind', 'openai']);
    assert.equal(kind.code, 2);
    assert.match(kind.stderr, /--preset registers a command agent; drop --kind/);
    const stray = await add(['--kind', 'command', '--config', '{"argv":["x"]}', '--model', 'm']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /--model only go with --preset/);
    const budget = await add(['--preset', 'codex', '--max-tokens', 'lots']);
    assert.equal(budget.code, 2);
    assert.match(budget.stderr, /--max-tokens must be a number/);
    const unpriced = await add(['--preset', 'codex', '--max-cost-usd', '5']);
    assert.equal(unpriced.code, 2);
    assert.match(unpriced.stderr, /a cost budget needs the upstream's prices \(--input-usd-per-million/);
    const half = await add(['--preset', 'codex', '--input-usd-per-million', '1']);
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--input-usd-per-million and --output-usd-per-million go together/);
  });

  it('registers an untested preset whose CLI is missing here, saying both', async () => {
    const res = await add(['--preset', 'mini-swe-agent', '--model', 'gpt-5.5', '--json'], { PATH: '/usr/bin:/bin' });
    assert.equal(res.code, 0, res.stderr);
    const c = JSON.parse(res.stdout).config;
    assert.equal(c.argv[0], 'mini');
    assert.equal(c.promptVia, 'arg');
    assert.ok(c.argv.includes('{prompt}'));
    assert.match(res.stderr, /mini is not installed here/);
    assert.match(res.stderr, /mini-swe-agent is configured from its documentation and untested end to end/);
  });
});

describe('doctor and the presets', function () {
  this.timeout(120_000);

  it('reports each preset: binary and version, key variable set or not (never its value), and why not', async () => {
    const secret = 'sk-ant-THIS-MUST-NOT-BE-PRINTED';
    const res = await arbiter(['doctor', '--json'], { ...cliEnv(), ANTHROPIC_API_KEY: secret, OPENAI_API_KEY: '' });
    assert.ok(!res.stdout.includes(secret) && !res.stderr.includes(secret), 'the key is never printed');
    const checks = JSON.parse(res.stdout) as Array<Record<string, unknown>>;
    const preset = (name: string) => checks.find((c) => c.preset === name)!;
    const claude = preset('claude-code');
    assert.equal(claude.ok, true, String(claude.detail));
    assert.equal(claude.required, false);
    assert.match(String(claude.version), /^\d+\.\d+\.\d+ \(Claude Code\)$/);
    assert.equal(claude.keySet, true);
    assert.match(String(claude.detail), /ANTHROPIC_API_KEY set/);
    const codex = preset('codex');
    assert.equal(codex.ok, false);
    assert.match(String(codex.version), /^codex-cli \d+\.\d+\.\d+$/);
    assert.match(String(codex.detail), /OPENAI_API_KEY not set on this worker/);
    const gemini = preset('gemini-cli');
    assert.equal(gemini.ok, false);
    assert.match(String(gemini.detail), /does not support yet/);
    assert.deepEqual(
      checks.filter((c) => c.preset).map((c) => c.preset),
      ['claude-code', 'codex', 'aider', 'opencode', 'gemini-cli', 'mini-swe-agent'],
    );
    const text = await arbiter(['doctor'], { ...cliEnv(), ANTHROPIC_API_KEY: secret });
    assert.equal(text.code, 0, 'presets are optional: a missing CLI never fails doctor');
    assert.match(
      text.stdout,
      /ok\s+preset claude-code\s+\d+\.\d+\.\d+ \(Claude Code\) at .*claude \(node_modules\); ANTHROPIC_API_KEY set/,
    );
    assert.match(text.stdout, /warn\s+preset gemini-cli\s+Gemini CLI speaks google-gemini/);
    assert.match(
      text.stdout,
      /ok\s+model keys\s+ANTHROPIC_API_KEY@api\.anthropic\.com, .*\(unset: the presets' pairs\)/,
    );
  });

  it("says which keys go where, that a preset's key may not reach its vendor, and fails on rules a worker refuses", async () => {
    const secret = 'sk-ant-THIS-MUST-NOT-BE-PRINTED';
    const env = { ...cliEnv(), ANTHROPIC_API_KEY: secret, ARBITER_MODEL_KEYS: 'TEAM_KEY@llm.internal:8443' };
    const res = await arbiter(['doctor', '--json'], env);
    assert.ok(!res.stdout.includes(secret), 'the key is never printed');
    const checks = JSON.parse(res.stdout) as Array<Record<string, unknown>>;
    const keys = checks.find((c) => c.name === 'model keys')!;
    assert.equal(keys.ok, true);
    assert.equal(keys.detail, 'TEAM_KEY@llm.internal:8443 (ARBITER_MODEL_KEYS); not set here: TEAM_KEY');
    const claude = checks.find((c) => c.preset === 'claude-code')!;
    assert.equal(claude.ok, false, 'the rules send ANTHROPIC_API_KEY nowhere');
    assert.match(
      String(claude.detail),
      /this worker sends ANTHROPIC_API_KEY to no host, not to https:\/\/api\.anthropic\.com/,
    );

    const noTools = await arbiter(['doctor', '--json'], {
      ...cliEnv(),
      ANTHROPIC_API_KEY: secret,
      ARBITER_TOOL_DIRS: ',',
    });
    const bare = (JSON.parse(noTools.stdout) as Array<Record<string, unknown>>).find(
      (c) => c.preset === 'claude-code',
    )!;
    assert.equal(bare.ok, false, 'its installation may not be bound');
    assert.match(String(bare.detail), /is not one this worker binds for agents: .*ARBITER_TOOL_DIRS \(none\)/);

    const bad = await arbiter(['doctor'], { ...env, ARBITER_MODEL_KEYS: 'TEAM_KEY@https://llm.internal' });
    assert.equal(bad.code, 1, 'a worker would not start with these rules');
    assert.match(bad.stderr, /ARBITER_MODEL_KEYS: 'TEAM_KEY@https:\/\/llm\.internal' is not VARIABLE@host/);
  });
});
