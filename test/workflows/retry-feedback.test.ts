/**
 * Retry with feedback on the real stack: an agent whose change fails a blocking gate is asked
 * again, in the same workspace, told which gate failed and why; each attempt keeps its own gates
 * in the snapshot, in PostgreSQL and in the signed verdict; the agent's statistics count the task
 * once; the policy alone sets how many attempts there are; and usage budgets span the attempts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { and, asc, eq, like } from 'drizzle-orm';
import { stringify } from 'yaml';
import { upsertAgent } from '../../db/agents';
import { agentOutcomes, artifacts, conversationMessages, conversations, gateResults, verdicts } from '../../db/schema';
import type { ScriptedStep } from '../../domain/agent';
import { HAPPY_PATH } from '../../domain/lifecycle';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import type { VerdictPayload } from '../../domain/verdict';
import { conversationWorkflowId } from '../../temporal-config';
import { startFakeOpenAI, type ChatMessage, type FakeOpenAI, type FakeReply } from '../helpers/fake-openai';
import {
  addCommandAgent,
  addScriptedAgent,
  gitIn,
  makeRepo,
  registerRepo,
  repoDir,
  specYaml,
  uniqueId,
} from '../helpers/fixtures';
import { activitiesRun } from '../helpers/history';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

const RIGHT = 'module.exports = () => 42;\n';
const WRONG = 'module.exports = () => 41;\n';
const CHECK = { name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] };
const KEY_ENV = 'FAKE_OPENAI_RETRY_KEY';

type Ref = { tenantId: string; taskId: string };

async function taskOn(tenantId: string, files: Record<string, string> = {}): Promise<TaskInput & Ref> {
  const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', ...files });
  return {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId, repo),
    gates: [CHECK],
  };
}

function states(final: TaskSnapshot): string[] {
  return final.history.map((h) => h.state);
}

async function activities(final: TaskSnapshot): Promise<string[]> {
  const history = await testStack().client.temporal.workflow.getHandle(final.workflowId).fetchHistory();
  return activitiesRun(history.events ?? []);
}

async function storedVerdict(ref: Ref): Promise<VerdictPayload> {
  const [row] = await testStack()
    .database.db.select()
    .from(verdicts)
    .where(and(eq(verdicts.tenantId, ref.tenantId), eq(verdicts.taskId, ref.taskId)));
  return row.payload;
}

async function outcomes(ref: Ref) {
  return testStack()
    .database.db.select()
    .from(agentOutcomes)
    .where(and(eq(agentOutcomes.tenantId, ref.tenantId), eq(agentOutcomes.taskId, ref.taskId)));
}

/** The happy path up to VERIFYING, then back to EXECUTING for a second attempt. */
const TWO_ATTEMPTS = [
  ...HAPPY_PATH.slice(0, HAPPY_PATH.indexOf('VERIFYING') + 1),
  'EXECUTING',
  'EXECUTION_COMPLETE',
  'VERIFYING',
];

describe('retry with feedback (real stack)', function () {
  this.timeout(120_000);

  it('a command agent fails a gate, gets its evidence in the next prompt, fixes the change in place and completes', async () => {
    const tenantId = uniqueId('tenant');
    // Reads its prompt on stdin: the first time it writes the wrong answer; told why, it keeps that prompt and fixes it.
    const script = [
      'p="$(cat)"',
      'case "$p" in',
      `  *"failed verification"*) [ -f src/feature.js ] && echo kept > src/kept.txt; printf '%s' "$p" > src/second-prompt.txt; printf '${RIGHT.trim()}\\n' > src/feature.js ;;`,
      `  *) printf '${WRONG.trim()}\\n' > src/feature.js ;;`,
      'esac',
    ].join('\n');
    const agent = await addCommandAgent(tenantId, script);
    const input = await taskOn(tenantId);
    const final = await runToEnd(input);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.deepEqual(states(final), [...TWO_ATTEMPTS, 'VERIFIED', 'COMPLETED']);
    assert.match(final.history[8].note ?? '', /^attempt 2 of 2: gate\(s\) failed: check$/);
    assert.equal(
      (await activities(final)).filter((a) => a === 'executeAgent').length,
      2,
      'the agent ran once per attempt',
    );

    // The second prompt carried the first attempt's evidence, and the agent found its own change still there.
    const delivered = (file: string) => gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:${file}`);
    const prompt = delivered('src/second-prompt.txt');
    assert.match(prompt, /# Task TEST-001/);
    assert.match(prompt, /Attempt 2 of 2: your previous change failed verification/);
    assert.match(
      prompt,
      /- check \(`node -e require\("\.\/src\/feature\.js"\)\(\) === 42 \|\| process\.exit\(3\)`\), exit code 3/,
    );
    assert.equal(delivered('src/kept.txt'), 'kept');
    assert.equal(delivered('src/feature.js'), RIGHT.trim());

    // Each attempt's gates: in the snapshot, in PostgreSQL, and in the signed verdict.
    assert.equal(final.attempts.length, 1);
    const [first] = final.attempts;
    assert.equal(first.attempt, 1);
    assert.deepEqual(
      first.gates.filter((g) => g.status !== 'pass').map((g) => [g.name, g.status, g.exitCode]),
      [['check', 'fail', 3]],
    );
    assert.equal(final.gates.find((g) => g.name === 'check')?.status, 'pass');
    assert.notEqual(first.diff.digest, final.diff?.digest, 'the attempts made different changes');
    const { db } = testStack().database;
    const rows = await db
      .select()
      .from(gateResults)
      .where(
        and(eq(gateResults.tenantId, tenantId), eq(gateResults.taskId, input.taskId), eq(gateResults.name, 'check')),
      )
      .orderBy(asc(gateResults.attempt));
    assert.deepEqual(
      rows.map((r) => [r.attempt, r.status, r.exitCode]),
      [
        [1, 'fail', 3],
        [2, 'pass', 0],
      ],
    );
    const payload = await storedVerdict(input);
    assert.equal(payload.outcome, 'PASS');
    assert.equal(payload.diff.digest, final.diff?.digest);
    assert.deepEqual(
      payload.attempts?.map((a) => [
        a.attempt,
        a.outcome,
        a.diff.digest,
        a.gates.find((g) => g.name === 'check')?.status,
      ]),
      [[1, 'FAIL', first.diff.digest, 'fail']],
    );
    const patches = await db
      .select({ id: artifacts.id, digest: artifacts.digest })
      .from(artifacts)
      .where(and(eq(artifacts.taskId, input.taskId), like(artifacts.id, '%/patch%')))
      .orderBy(asc(artifacts.id));
    assert.deepEqual(
      patches.map((p) => p.digest),
      [first.diff.digest, final.diff?.digest],
      "both attempts' patches are kept",
    );

    // The router learns from the task once, from its verdict.
    const learned = await outcomes(input);
    assert.deepEqual(
      learned.map((o) => [o.agentId, o.outcome]),
      [[agent.id, 'PASS']],
    );
  });

  it('a change refused outright (the tree gate) is never written back: the retry starts from the base', async () => {
    const tenantId = uniqueId('tenant');
    const script = [
      'p="$(cat)"',
      'case "$p" in',
      `  *"failed verification"*) { [ -e src/link ] || [ -L src/link ]; } && echo stale > src/stale.txt; printf '%s' "$p" > src/second-prompt.txt; printf '${RIGHT.trim()}\n' > src/feature.js ;;`,
      `  *) ln -s /etc/passwd src/link; printf '${RIGHT.trim()}\n' > src/feature.js ;;`,
      'esac',
    ].join('\n');
    await addCommandAgent(tenantId, script);
    const input = await taskOn(tenantId);
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts[0].gates.find((g) => g.name === 'tree')?.status, 'fail');
    const files = gitIn(repoDir(input.repo), 'ls-tree', '-r', '--name-only', `arbiter/${input.taskId}`).split('\n');
    assert.ok(!files.includes('src/link') && !files.includes('src/stale.txt'), files.join(' '));
    const prompt = gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/second-prompt.txt`);
    assert.match(prompt, /refused outright, so you start again from the base/);
    assert.match(prompt, /- tree/);
  });

  it("a retry whose agent fails leaves the last verified attempt's signed FAIL verdict, counted once", async () => {
    const tenantId = uniqueId('tenant');
    const script = `case "$(cat)" in *"failed verification"*) echo giving up >&2; exit 7 ;; *) printf '${WRONG.trim()}\\n' > src/feature.js ;; esac`;
    await addCommandAgent(tenantId, script);
    const input = await taskOn(tenantId);
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'AgentFailedError');
    assert.match(final.error?.message ?? '', /exited with 7/);
    assert.deepEqual(states(final), [...TWO_ATTEMPTS.slice(0, 9), 'FAILED']);
    assert.deepEqual(final.attempts, [], 'the judged attempt is the first again');
    assert.equal(final.verdict?.outcome, 'FAIL');
    const payload = await storedVerdict(input);
    assert.equal(payload.outcome, 'FAIL');
    assert.equal(payload.gates.find((g) => g.name === 'check')?.status, 'fail');
    assert.equal(payload.diff.digest, final.diff?.digest);
    assert.deepEqual(
      (await outcomes(input)).map((o) => o.outcome),
      ['FAIL'],
    );
  });

  it('an agent that fails every attempt ends FAILED after the policy default of two, and the verdict names both', async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [{ op: 'write', path: 'src/feature.js', content: WRONG }]);
    const input = await taskOn(tenantId);
    const final = await runToEnd(input);

    assert.equal(final.state, 'FAILED');
    assert.deepEqual(states(final), [...TWO_ATTEMPTS, 'FAILED']);
    assert.equal(final.error?.type, 'GatesFailed');
    assert.equal((await activities(final)).filter((a) => a === 'executeAgent').length, 2);
    const payload = await storedVerdict(input);
    assert.equal(payload.outcome, 'FAIL');
    assert.deepEqual(
      payload.attempts?.map((a) => a.attempt),
      [1],
    );
    assert.deepEqual(
      (await outcomes(input)).map((o) => o.outcome),
      ['FAIL'],
      'counted once',
    );
  });

  it("a scripted agent's retry plan runs on top of its failed change", async () => {
    const tenantId = uniqueId('tenant');
    const retrySteps: ScriptedStep[] = [{ op: 'replace', path: 'src/feature.js', search: '41', replace: '42' }];
    await upsertAgent(testStack().database.db, {
      id: uniqueId('agent'),
      tenantId,
      kind: 'scripted',
      config: { steps: [{ op: 'write', path: 'src/feature.js', content: WRONG }], retrySteps },
      capabilities: { taskTypes: ['feature'] },
    });
    const input = await taskOn(tenantId);
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts.length, 1);
    assert.equal(gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`), RIGHT.trim());
  });

  it('`arbiter.max_attempts: 1` in the trusted policy turns retries off', async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [{ op: 'write', path: 'src/feature.js', content: WRONG }]);
    const input = await taskOn(tenantId, {
      '.caws/policy.yaml': stringify({ version: 1, arbiter: { max_attempts: 1 } }),
    });
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.attempts, []);
    assert.equal((await activities(final)).filter((a) => a === 'executeAgent').length, 1);
    assert.equal((await storedVerdict(input)).attempts, undefined, 'a one-attempt verdict has no attempts field');
  });

  it("an agent cannot grant itself attempts: a policy in its change is not the trusted ref's", async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [
      { op: 'write', path: 'src/feature.js', content: WRONG },
      { op: 'write', path: '.caws/policy.yaml', content: stringify({ version: 1, arbiter: { max_attempts: 5 } }) },
    ]);
    const input = await taskOn(tenantId, {
      '.caws/policy.yaml': stringify({ version: 1, arbiter: { max_attempts: 1 } }),
    });
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.equal((await activities(final)).filter((a) => a === 'executeAgent').length, 1);
  });
});

describe('retry with feedback for the openai kind (fake chat-completions server)', function () {
  this.timeout(120_000);
  let fake: FakeOpenAI | undefined;

  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  /** Writes the wrong answer until told why it failed, then the right one; each turn costs 1,000 tokens. */
  function model(turn: number, messages: ChatMessage[]): FakeReply {
    const usage = { prompt: 900, completion: 100 };
    const last = messages[messages.length - 1];
    if (last.role === 'tool') return { content: `done at turn ${turn}`, usage };
    const told = last.role === 'user' && (last.content ?? '').includes('failed verification');
    return {
      toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: told ? RIGHT : WRONG } }],
      usage,
    };
  }

  async function runOpenAI(config: Record<string, unknown> = {}, script: typeof model = model) {
    const apiKey = `sk-fake-${randomBytes(8).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    fake = await startFakeOpenAI({ script, apiKey });
    const tenantId = uniqueId('tenant');
    await upsertAgent(testStack().database.db, {
      id: uniqueId('gpt'),
      tenantId,
      kind: 'openai',
      config: { baseUrl: fake.baseUrl, model: 'fake-gpt', apiKeyEnv: KEY_ENV, ...config },
      capabilities: { taskTypes: ['feature'] },
    });
    const input = await taskOn(tenantId);
    return { input, final: await runToEnd(input) };
  }

  it('the feedback is a new user turn of the same conversation, in a child of its own', async () => {
    const { input, final } = await runOpenAI();
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts.length, 1);

    const { db } = testStack().database;
    const convs = await db
      .select()
      .from(conversations)
      .where(and(eq(conversations.tenantId, input.tenantId), eq(conversations.taskId, input.taskId)));
    assert.equal(convs.length, 1, 'one conversation across both attempts');
    const messages = await db
      .select()
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, convs[0].id))
      .orderBy(asc(conversationMessages.seq));
    assert.deepEqual(
      messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'tool', 'assistant', 'user', 'assistant', 'tool', 'assistant'],
    );
    assert.match(
      messages[5].content ?? '',
      /Attempt 2 of 2: your previous change failed verification[\s\S]*exit code 3/,
    );
    assert.deepEqual(
      messages.filter((m) => m.role === 'assistant').map((m) => m.turn),
      [1, 2, 3, 4],
    );
    // The model saw the whole conversation, then the feedback, on its third turn.
    const third = fake!.requestsFor(3)[0].messages;
    assert.equal(third[third.length - 1].role, 'user');
    assert.match(third[4].content ?? '', /done at turn 2/);

    const { client } = testStack();
    for (const attempt of [1, 2]) {
      const child = await client.temporal.workflow.getHandle(conversationWorkflowId(convs[0].id, attempt)).describe();
      assert.equal(child.status.name, 'COMPLETED', `the attempt-${attempt} conversation child`);
    }
    assert.deepEqual(
      (await outcomes(input)).map((o) => [o.outcome, o.tokens]),
      [['PASS', 4000]],
      "the task's tokens span both attempts",
    );
  });

  it('a conversation whose change was refused outright starts over in a fresh workspace, with the feedback', async () => {
    const { input, final } = await runOpenAI({}, (turn, messages) => {
      const usage = { prompt: 900, completion: 100 };
      const last = messages[messages.length - 1];
      if (last.role === 'tool') return { content: `done at turn ${turn}`, usage };
      if (messages.some((m) => m.role === 'user' && (m.content ?? '').includes('failed verification')))
        return { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content: RIGHT } }], usage };
      return {
        toolCalls: [
          { name: 'run_command', arguments: { argv: ['ln', '-s', '/etc/passwd', 'src/link'] } },
          { name: 'file_write', arguments: { path: 'src/feature.js', content: RIGHT } },
        ],
        usage,
      };
    });
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts[0].gates.find((g) => g.name === 'tree')?.status, 'fail');
    const files = gitIn(repoDir(input.repo), 'ls-tree', '-r', '--name-only', `arbiter/${input.taskId}`);
    assert.doesNotMatch(files, /src\/link/);
    const { db } = testStack().database;
    const convs = await db
      .select()
      .from(conversations)
      .where(and(eq(conversations.tenantId, input.tenantId), eq(conversations.taskId, input.taskId)))
      .orderBy(asc(conversations.id));
    assert.equal(convs.length, 2, 'a new conversation for the new workspace');
    const second = await db
      .select()
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, convs[1].id))
      .orderBy(asc(conversationMessages.seq));
    assert.deepEqual(
      second.slice(0, 3).map((m) => m.role),
      ['system', 'user', 'user'],
    );
    assert.match(second[2].content ?? '', /refused outright, so you start again from the base/);
  });

  it("the token budget spans attempts: a retry that passes the agent's limit fails it", async () => {
    const { input, final } = await runOpenAI({ maxTokens: 2_500 });
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'AgentFailedError');
    assert.match(final.error?.message ?? '', /used 3000 tokens, over its limit of 2500/);
    // The limit was met on the second attempt: the first keeps its signed FAIL verdict.
    assert.deepEqual(final.attempts, []);
    assert.equal(final.verdict?.outcome, 'FAIL');
    assert.equal(final.gates.find((g) => g.name === 'check')?.status, 'fail');
    const payload = await storedVerdict(input);
    assert.equal(payload.diff.digest, final.diff?.digest);
    assert.equal(payload.attempts, undefined);
  });
});
