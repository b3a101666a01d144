/**
 * A command agent through the whole lifecycle behind the worker's gateway: the agent holds only
 * its token, the upstream sees the real key, the verdict summarises the calls, the key is
 * nowhere in the workspace, the delivered branch or the workflow history, and a token budget
 * overrun stops the agent with the reason.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync } from 'node:fs';
import * as path from 'node:path';
import { eq } from 'drizzle-orm';
import { upsertAgent } from '../../db/agents';
import { verdicts } from '../../db/schema';
import type { VerdictPayload } from '../../domain/verdict';
import { projectRoot } from '../../client/paths';
import { gitIn, registerRepo, repoDir, specYaml, tempDir, uniqueId } from '../helpers/fixtures';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { arbiter, cliEnv } from '../helpers/cli';

const KEY_ENV = 'TEST_GATEWAY_KEY';
const REAL_KEY = `sk-live-${uniqueId('key')}`;

/** The stand-in agent, copied where the sandbox user may read it. */
function agentDir(): string {
  const dir = tempDir('arbiter-agent-');
  cpSync(path.join(projectRoot(), 'test', 'fixtures', 'agents', 'chat-agent.js'), path.join(dir, 'chat-agent.js'));
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'chat-agent.js'), 0o644);
  return dir;
}

describe('a command agent behind the gateway, end to end', function () {
  this.timeout(120_000);
  let upstream: FakeOpenAI;
  let tools: string;

  before(async () => {
    process.env[KEY_ENV] = REAL_KEY;
    tools = agentDir();
    upstream = await startFakeOpenAI({
      apiKey: REAL_KEY,
      // Writes 42, or 41 when the task says `answer: wrong` until it is told why that failed.
      script: (turn, messages) => {
        const prompt = messages.map((m) => m.content ?? '').join('\n');
        const answer = prompt.includes('answer: wrong') && !prompt.includes('failed verification') ? 41 : 42;
        return turn === 1
          ? {
              toolCalls: [
                {
                  name: 'write_file',
                  arguments: { path: 'src/feature.js', content: `module.exports = () => ${answer};\n` },
                },
              ],
              usage: { prompt: 120, completion: 30 },
            }
          : { content: 'done', usage: { prompt: 160, completion: 5 } };
      },
    });
  });
  after(async () => {
    delete process.env[KEY_ENV];
    await upstream.close();
  });

  async function task(budgets: Record<string, number> = {}, extra: Record<string, unknown> = {}) {
    const tenantId = uniqueId('tenant');
    await upsertAgent(testStack().database.db, {
      id: uniqueId('agent'),
      tenantId,
      kind: 'command',
      config: {
        argv: ['node', path.join(tools, 'chat-agent.js')],
        env: { OPENAI_BASE_URL: '{gateway:model}', OPENAI_API_KEY: '{token}' },
        toolDirs: [tools],
        gateway: {
          upstreams: [{ name: 'model', protocol: 'openai-chat', baseUrl: upstream.baseUrl, apiKeyEnv: KEY_ENV }],
          budgets,
        },
      },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 5,
    });
    const repo = await registerRepo(tenantId);
    return { tenantId, taskId: uniqueId('task'), specYaml: specYaml(extra), repo };
  }

  it('passes, with the calls in the verdict and the key nowhere but the upstream', async () => {
    const input = await task();
    const snap = await runToEnd(input);
    assert.equal(snap.verdict?.outcome, 'PASS', JSON.stringify(snap.error ?? snap.gates));
    const [row] = await testStack().database.db.select().from(verdicts).where(eq(verdicts.taskId, input.taskId));
    const gateway = (row.payload as VerdictPayload).gateway;
    assert.equal(gateway?.calls, 2);
    assert.equal(gateway?.inputTokens, 280);
    assert.equal(gateway?.outputTokens, 35);
    assert.deepEqual(gateway?.byUpstream, { model: 2 });
    assert.ok(upstream.requests.every((r) => r.headers.authorization === `Bearer ${REAL_KEY}`));
    const branch = snap.delivery?.branch;
    assert.ok(branch, 'delivered');
    const dir = repoDir(input.repo);
    assert.equal(gitIn(dir, 'show', `${branch}:src/feature.js`), 'module.exports = () => 42;');
    assert.doesNotMatch(gitIn(dir, 'log', '-p', branch), new RegExp(REAL_KEY));
    const history = await testStack().client.temporal.workflow.getHandle(snap.workflowId).fetchHistory();
    assert.doesNotMatch(JSON.stringify(history), new RegExp(REAL_KEY), 'the key is not in the workflow history');
    const cli = await arbiter(['calls', `${input.tenantId}/${input.taskId}`], cliEnv());
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(cli.stdout.trim().split('\n').length, 2, cli.stdout);
    assert.match(cli.stdout, /agent\s+model\/chat\/completions {2}200 .* 120 in \/ 30 out/);
  });

  it("a retry's calls count against the same budget: tokens span the attempts", async () => {
    // The first attempt spends 315 tokens (under 400) and fails its check; the retry's first call crosses 400.
    const input = await task({ maxTokens: 400 }, { invariants: ['answer: wrong'] });
    const snap = await runToEnd({
      ...input,
      gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] }],
    });
    assert.equal(snap.state, 'FAILED');
    assert.match(snap.error?.message ?? '', /token budget exceeded: 465 of 400 tokens/);
    assert.equal(snap.verdict?.outcome, 'FAIL', "the first attempt's verdict stands");
  });

  it('fails with the reason when a call crosses the token budget', async () => {
    const input = await task({ maxTokens: 100 });
    const snap = await runToEnd(input);
    assert.equal(snap.state, 'FAILED');
    assert.match(snap.error?.message ?? '', /token budget exceeded: 150 of 100 tokens/);
    const cli = await arbiter(['calls', `${input.tenantId}/${input.taskId}`, '--json'], cliEnv());
    const { calls, refusals } = JSON.parse(cli.stdout) as {
      calls: unknown[];
      refusals: Array<{ op: string; reason: string }>;
    };
    assert.equal(calls.length, 1);
    assert.ok(
      refusals.some((r) => r.op === 'stop' && /token budget exceeded/.test(r.reason)),
      cli.stdout,
    );
  });
});
