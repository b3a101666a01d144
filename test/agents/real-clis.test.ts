/**
 * The real Claude Code and Codex CLI binaries (pinned devDependencies), configured by their
 * presets exactly as `agents add --preset` stores them, run confined like every agent command
 * (test/agents/confined-agent.ts: setpriv, prlimit, bwrap, read-only root, private HOME; plus
 * `--share-net` to reach the fake model on host loopback until the gateway exists) against a
 * local fake model that plays a scripted tool-calling conversation: run the failing test, fix
 * the constant, run it again, report. Each must leave the workspace with the test passing, and
 * the fake must have seen exactly the model calls the script expects, with the run's token.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildPresetConfig, presetDefinition } from '../../domain/agent-presets';
import { findPresetBinary } from '../../client/agent-binaries';
import { projectRoot } from '../../client/paths';
import { DEFAULT_SANDBOX_CONFIG, runningAsRoot } from '../../host/sandbox/config';
import { sandboxProbe } from '../../host/sandbox/bwrap';
import { startFakeModels, type FakeModels } from '../helpers/fake-models/server';
import type { ConversationScript, TurnContext } from '../helpers/fake-models/script';
import { tempDir } from '../helpers/temp';
import { runConfinedAgent } from './confined-agent';

const TOKEN = 'arbiter-run-token-0123456789';
/**
 * The sandbox will point HTTP(S)_PROXY at its relay, which refuses what is not allowed; a dead
 * proxy stands in for it: the run only works if the CLI reaches the gateway directly (NO_PROXY).
 */
const PROXY_ENV = {
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
};
const PROMPT = 'The test `node test.js` fails. Fix answer.js so that it passes, and run the test to check.';

/** A workspace as Arbiter lays it out: files only (git data lives outside), owned by the sandbox user. */
function workspace(): string {
  const dir = tempDir('arbiter-agent-ws-');
  writeFileSync(path.join(dir, 'answer.js'), 'module.exports = 41;\n');
  writeFileSync(
    path.join(dir, 'test.js'),
    "const a = require('./answer.js');\nif (a !== 42) { console.error('expected 42, got ' + a); process.exit(1); }\nconsole.log('ok');\n",
  );
  if (runningAsRoot())
    for (const f of ['', 'answer.js', 'test.js'])
      chownSync(path.join(dir, f), DEFAULT_SANDBOX_CONFIG.uid, DEFAULT_SANDBOX_CONFIG.gid);
  return dir;
}

/** Turns as [tool, input] (the last one text), checked against the tools the CLI really offered. */
function script(turns: Array<[string, unknown] | string>): ConversationScript {
  return (ctx: TurnContext) => {
    const step = turns[ctx.turn - 1];
    if (step === undefined) return { text: `unexpected turn ${ctx.turn}` };
    if (typeof step === 'string') return { text: step };
    const [name, input] = step;
    if (!ctx.tools.some((t) => t.name === name))
      return { text: `the client offered no tool '${name}' (offered: ${ctx.tools.map((t) => t.name).join(', ')})` };
    return { toolCalls: [{ name, input }] };
  };
}

const CLAUDE_TURNS = script([
  ['Bash', { command: 'node test.js', description: 'run the failing test' }],
  ['Read', { file_path: '/workspace/answer.js' }],
  ['Edit', { file_path: '/workspace/answer.js', old_string: '41', new_string: '42' }],
  ['Bash', { command: 'node test.js', description: 'run the test again' }],
  'Fixed: answer.js now exports 42 and node test.js passes.',
]);

const CODEX_TURNS = script([
  ['exec_command', { cmd: 'node test.js' }],
  ['exec_command', { cmd: "sed -i 's/41/42/' answer.js" }],
  ['exec_command', { cmd: 'node test.js' }],
  'Fixed: answer.js now exports 42 and node test.js passes.',
]);

function requireTools(ctx: Mocha.Context, preset: string): string {
  const found = findPresetBinary(presetDefinition(preset), { root: projectRoot() });
  if (!found) ctx.skip();
  const probe = sandboxProbe(DEFAULT_SANDBOX_CONFIG);
  assert.ok(probe.ok, `the sandbox must work here: ${probe.reason}`);
  return found!.path;
}

function assertTestPasses(ws: string): void {
  assert.equal(readFileSync(path.join(ws, 'answer.js'), 'utf8'), 'module.exports = 42;\n');
  execFileSync(process.execPath, ['test.js'], { cwd: ws });
}

/** The text of every request body, to find a tool result the CLI sent back. */
const bodies = (fake: FakeModels) => fake.turns().map((r) => JSON.stringify(r.body));

describe('real coding-agent CLIs in the sandbox, against a fake model', function () {
  this.timeout(180_000);
  let fake: FakeModels | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('Claude Code (preset claude-code) fixes a failing test through Bash, Read and Edit', async function () {
    const binary = requireTools(this, 'claude-code');
    fake = await startFakeModels({ script: CLAUDE_TURNS, apiKey: TOKEN });
    const config = buildPresetConfig('claude-code', { binary, model: 'claude-sonnet-4-6' });
    const ws = workspace();
    const run = await runConfinedAgent({
      config,
      workspace: ws,
      prompt: PROMPT,
      gatewayOrigin: fake.origin,
      token: TOKEN,
      sandboxEnv: PROXY_ENV,
    });
    assert.equal(run.code, 0, `claude exited ${run.code}:\n${run.output}\n${fake.summary().join('\n')}`);
    assertTestPasses(ws);
    const turns = fake.turns('anthropic-messages');
    assert.deepEqual(
      turns.map((r) => r.turn),
      [1, 2, 3, 4, 5],
      fake.summary().join('\n'),
    );
    for (const r of turns) {
      assert.equal(r.method, 'POST');
      assert.match(r.path, /^\/u\/anthropic\/v1\/messages(\?beta=true)?$/);
      assert.equal(r.headers['x-api-key'], TOKEN);
      assert.equal(r.stream, true);
      assert.equal(r.model, 'claude-sonnet-4-6');
    }
    assert.ok(bodies(fake)[1].includes('expected 42, got 41'), 'the failing test output went back to the model');
    assert.ok(run.output.includes('Fixed: answer.js now exports 42'));
    // Nothing but the conversation: no probes, titles or telemetry reached the model endpoint.
    assert.deepEqual(
      fake.requests.filter((r) => r.kind !== 'turn').map((r) => `${r.method} ${r.path}`),
      [],
    );
    assert.deepEqual(fake.usage(), { input: 101 + 102 + 103 + 104 + 105, output: 11 + 12 + 13 + 14 + 15 });
  });

  it('Codex CLI (preset codex) fixes a failing test through exec_command', async function () {
    const binary = requireTools(this, 'codex');
    fake = await startFakeModels({ script: CODEX_TURNS, apiKey: TOKEN });
    const config = buildPresetConfig('codex', { binary, model: 'gpt-5.5' });
    const ws = workspace();
    const run = await runConfinedAgent({
      config,
      workspace: ws,
      prompt: PROMPT,
      gatewayOrigin: fake.origin,
      token: TOKEN,
      sandboxEnv: PROXY_ENV,
    });
    assert.equal(run.code, 0, `codex exited ${run.code}:\n${run.output}\n${fake.summary().join('\n')}`);
    assertTestPasses(ws);
    const turns = fake.turns('openai-responses');
    assert.deepEqual(
      turns.map((r) => r.turn),
      [1, 2, 3, 4],
      fake.summary().join('\n'),
    );
    for (const r of turns) {
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/u/openai/responses');
      assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(r.stream, true);
      assert.equal(r.model, 'gpt-5.5');
    }
    assert.ok(bodies(fake)[1].includes('expected 42, got 41'), 'the failing test output went back to the model');
    assert.deepEqual(
      fake.requests.filter((r) => r.kind !== 'turn').map((r) => `${r.method} ${r.path}`),
      [],
    );
    assert.deepEqual(fake.usage(), { input: 101 + 102 + 103 + 104, output: 11 + 12 + 13 + 14 });
  });
});
