/**
 * Best of N on the real stack: a task runs N candidates, each its own child task with its own
 * agent, workspace, verification and signed verdict; the arbiter picks by evidence (PASS first,
 * then the smaller change), delivers only the winner, names every candidate in its verdict, and
 * the router learns from each candidate once. `first-pass` cancels the rest when one passes.
 * A submitter cannot take a candidate's place, nor can a run started by hand pose as one.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { and, eq, like } from 'drizzle-orm';
import { stringify } from 'yaml';
import { upsertAgent } from '../../db/agents';
import { agentOutcomes, verdicts, waivers } from '../../db/schema';
import type { ScriptedStep } from '../../domain/agent';
import { candidateTaskId } from '../../domain/candidates';
import type { TaskInput } from '../../domain/task';
import type { VerdictPayload } from '../../domain/verdict';
import { taskWorkflowId } from '../../temporal-config';
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
import { registeredApprover, signedWaiverRow } from '../helpers/approvers';
import { startFakeOpenAI } from '../helpers/fake-openai';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { persistedEvents, waitForState } from '../helpers/wait';
import { clientOnQueue, killHard, stopWorker, workerProcessPerTest } from '../helpers/worker-process';

const RIGHT: ScriptedStep = { op: 'write', path: 'src/feature.js', content: 'module.exports = () => 42;\n' };
const WRONG: ScriptedStep = { op: 'write', path: 'src/feature.js', content: 'module.exports = () => 41;\n' };
const CHECK = { name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] };
/** One attempt each, so a failing candidate ends at once. */
const ONE_ATTEMPT = stringify({ version: 1, arbiter: { max_attempts: 1 } });

async function task(
  tenantId: string,
  extra: Partial<TaskInput> = {},
): Promise<TaskInput & { taskId: string; repo: string }> {
  const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': ONE_ATTEMPT });
  return {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId, repo),
    gates: [CHECK],
    ...extra,
  };
}

async function payloadOf(tenantId: string, taskId: string): Promise<VerdictPayload[]> {
  const rows = await testStack()
    .database.db.select()
    .from(verdicts)
    .where(and(eq(verdicts.tenantId, tenantId), eq(verdicts.taskId, taskId)));
  return rows.map((r) => r.payload);
}

/** The search attributes a run was started with, decoded. */
async function startSearchAttributes(handle: WorkflowHandle): Promise<Record<string, unknown>> {
  const [started] = (await handle.fetchHistory()).events ?? [];
  const fields = started.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields ?? {};
  return Object.fromEntries(
    Object.entries(fields).map(([name, payload]) => [name, JSON.parse(Buffer.from(payload.data!).toString('utf8'))]),
  );
}

function branches(repo: string): string[] {
  return gitIn(repoDir(repo), 'for-each-ref', '--format=%(refname:short)', 'refs/heads/arbiter/')
    .split('\n')
    .filter(Boolean);
}

describe('best of N (real stack)', function () {
  this.timeout(180_000);
  const spawnWorker = workerProcessPerTest();

  it('runs three candidates, delivers only the one that passed, and names all three in the verdict', async () => {
    const tenantId = uniqueId('tenant');
    const good = await addScriptedAgent(tenantId, [RIGHT]);
    const bad1 = await addScriptedAgent(tenantId, [WRONG]);
    const bad2 = await addScriptedAgent(tenantId, [WRONG, { op: 'write', path: 'src/extra.js', content: '1;\n' }]);
    const input = await task(tenantId, { candidates: 3 });
    const final = await runToEnd(input);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.match(final.history.find((h) => h.state === 'ROUTED')?.note ?? '', /^3 candidates: /);
    assert.deepEqual(
      final.candidates.map((c) => c.agentId).sort(),
      [good.id, bad1.id, bad2.id].sort(),
      'three distinct agents',
    );
    const chosen = final.candidates.filter((c) => c.chosen);
    assert.deepEqual(
      chosen.map((c) => [c.agentId, c.outcome]),
      [[good.id, 'PASS']],
    );
    for (const c of final.candidates.filter((x) => !x.chosen))
      assert.deepEqual([c.state, c.outcome], ['FAILED', 'FAIL']);
    assert.match(final.candidateChoice ?? '', /did not pass/);

    // Only the winner's change is delivered, on the task's own branch; candidates deliver nothing.
    assert.deepEqual(branches(input.repo), [`arbiter/${input.taskId}`]);
    assert.equal(
      gitIn(repoDir(input.repo), 'show', `arbiter/${input.taskId}:src/feature.js`),
      'module.exports = () => 42;',
    );

    // The task's verdict names every candidate with its own signed verdict's digest.
    const [payload] = await payloadOf(tenantId, input.taskId);
    assert.equal(payload.outcome, 'PASS');
    assert.equal(payload.agentId, good.id);
    assert.equal(payload.candidates?.all.length, 3);
    for (const c of payload.candidates?.all ?? []) {
      const [own] = await payloadOf(tenantId, candidateTaskId(input.taskId, c.index));
      const stored = await testStack()
        .database.db.select({ digest: verdicts.digest })
        .from(verdicts)
        .where(and(eq(verdicts.tenantId, tenantId), eq(verdicts.taskId, c.taskId)));
      assert.equal(c.verdictDigest, stored[0].digest, `candidate ${c.index}'s digest`);
      assert.equal(c.outcome, own.outcome);
    }

    // Each candidate run shows its tenant and state in visibility from its start, as a submitted task does.
    for (const k of [1, 2, 3]) {
      const handle = testStack().client.temporal.workflow.getHandle(
        taskWorkflowId({ tenantId, taskId: candidateTaskId(input.taskId, k) }),
      );
      assert.deepEqual(await startSearchAttributes(handle), { ArbiterState: 'RECEIVED', TenantId: tenantId });
    }

    // The router learned from each candidate once, and not from the task itself.
    const learned = await testStack()
      .database.db.select()
      .from(agentOutcomes)
      .where(and(eq(agentOutcomes.tenantId, tenantId), like(agentOutcomes.taskId, `${input.taskId}%`)));
    assert.deepEqual(
      learned.map((o) => o.taskId).sort(),
      [1, 2, 3].map((k) => candidateTaskId(input.taskId, k)).sort(),
    );
  });

  it("the policy's candidates per tier apply to the task, never again to its candidates", async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [RIGHT]);
    await addScriptedAgent(tenantId, [WRONG]);
    const policy = stringify({ version: 1, arbiter: { max_attempts: 1, candidates: { '3': 2 } } });
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': policy });
    const input = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenantId, repo),
      gates: [CHECK],
    };
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.candidates.length, 2);
    const { client } = testStack();
    for (const c of final.candidates) {
      const own = await client.status({ tenantId, taskId: c.taskId });
      assert.deepEqual(own.candidates, [], `${c.taskId} ran no candidates of its own`);
    }
    await assert.rejects(
      client.status({ tenantId, taskId: candidateTaskId(candidateTaskId(input.taskId, 1), 1) }),
      /not found|no task/i,
    );
  });

  it('of two that pass, the smaller change wins', async () => {
    const tenantId = uniqueId('tenant');
    const lean = await addScriptedAgent(tenantId, [RIGHT]);
    await addScriptedAgent(tenantId, [RIGHT, { op: 'write', path: 'src/notes.js', content: '// a\n// b\n// c\n' }]);
    const input = await task(tenantId, { candidates: 2 });
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.candidates.find((c) => c.chosen)?.agentId, lean.id);
    assert.match(final.candidateChoice ?? '', /changed more lines/);
    const files = gitIn(repoDir(input.repo), 'ls-tree', '-r', '--name-only', `arbiter/${input.taskId}`);
    assert.doesNotMatch(files, /notes\.js/);
  });

  it('first-pass cancels the other candidates as soon as one passes', async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [RIGHT]);
    await addScriptedAgent(tenantId, [{ op: 'run', argv: ['sleep', '60'], timeoutSeconds: 120 }, RIGHT]);
    const input = await task(tenantId, { candidates: 2, candidateMode: 'first-pass' });
    const started = Date.now();
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.ok(Date.now() - started < 50_000, 'the slow candidate was not waited for');
    assert.deepEqual(final.candidates.map((c) => c.state).sort(), ['CANCELLED', 'COMPLETED']);
  });

  it('a candidate cancelled by hand is judged as it ended; the task goes on with the others', async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [RIGHT]);
    const slow = await addScriptedAgent(tenantId, [{ op: 'run', argv: ['sleep', '60'], timeoutSeconds: 120 }, RIGHT]);
    const input = await task(tenantId, { candidates: 2 });
    const { client } = testStack();
    await client.submit(input);
    const running = await waitForState(input, (s) =>
      s.candidates.some((c) => c.agentId === slow.id && c.state === 'RUNNING'),
    );
    const index = running.candidates.find((c) => c.agentId === slow.id)!.index;
    const candidate = { tenantId, taskId: candidateTaskId(input.taskId, index) };
    await client.temporal.workflow.getHandle(taskWorkflowId(candidate)).cancel();
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.verdict?.outcome, 'PASS');
    assert.deepEqual(final.candidates.map((c) => c.state).sort(), ['CANCELLED', 'COMPLETED']);
    const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
    await handle.result();
    const run = await handle.describe();
    assert.equal(run.status.name, 'COMPLETED');
  });

  it('candidates of every kind: a command agent and an openai conversation, judged alike', async () => {
    const tenantId = uniqueId('tenant');
    const apiKey = `sk-fake-${uniqueId('k')}`;
    process.env.FAKE_OPENAI_BEST_OF_N_KEY = apiKey;
    const fake = await startFakeOpenAI({
      apiKey,
      script: [
        {
          toolCalls: [
            { name: 'file_write', arguments: { path: 'src/feature.js', content: 'module.exports = () => 42;\n' } },
          ],
        },
        { content: 'done' },
      ],
    });
    try {
      const model = await upsertAgent(testStack().database.db, {
        id: uniqueId('gpt'),
        tenantId,
        kind: 'openai',
        config: { baseUrl: fake.baseUrl, model: 'fake-gpt', apiKeyEnv: 'FAKE_OPENAI_BEST_OF_N_KEY' },
        capabilities: { taskTypes: ['feature'] },
      });
      await addCommandAgent(tenantId, "printf 'module.exports = () => 41;\\n' > src/feature.js");
      const input = await task(tenantId, { candidates: 2 });
      const final = await runToEnd(input);
      assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
      assert.equal(final.candidates.find((c) => c.chosen)?.agentId, model.id);
      assert.deepEqual(final.candidates.map((c) => c.outcome).sort(), ['FAIL', 'PASS']);
    } finally {
      await fake.close();
    }
  });

  it("a winner that passed by a spec's waiver is delivered WAIVED, its waiver and signed approval carried", async () => {
    const tenantId = uniqueId('tenant');
    // Over the policy's one-file budget, raised by the waiver the spec names; the other agent fails outright.
    await addScriptedAgent(tenantId, [RIGHT, { op: 'write', path: 'src/extra.js', content: '1;\n' }]);
    await addScriptedAgent(tenantId, [{ op: 'run', argv: ['node', '-e', 'process.exit(9)'], timeoutSeconds: 60 }]);
    const alice = await registeredApprover(tenantId, 'alice');
    const waiverId = `WV-${Math.floor(1000 + Math.random() * 8999)}`;
    await testStack()
      .database.db.insert(waivers)
      .values({
        ...(await signedWaiverRow(tenantId, {
          id: waiverId,
          specId: 'TEST-001',
          approvers: [alice],
          delta: { maxFiles: 5, maxLoc: 0 },
        })),
        gates: ['budget_limit'],
        status: 'active',
        expiresAt: new Date(Date.now() + 86_400_000),
      });
    const policy = stringify({
      version: 1,
      risk_tiers: { '3': { max_files: 1, max_loc: 100 } },
      waivers: { max_expiry_days: 7 },
      arbiter: { max_attempts: 1 },
    });
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n', '.caws/policy.yaml': policy });
    const input = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml({ waiver_ids: [waiverId] }),
      repo: await registerRepo(tenantId, repo),
      gates: [CHECK],
      candidates: 2,
    };
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.verdict?.outcome, 'WAIVED');
    const [payload] = await payloadOf(tenantId, input.taskId);
    assert.deepEqual(payload.waivers, [waiverId]);
    assert.equal(payload.approvals.length, 1, "the waiver's signed approval is in the task's verdict");
    assert.deepEqual(branches(input.repo), [`arbiter/${input.taskId}`]);
  });

  it('no candidate passing fails the task with the best one judged, and nothing delivered', async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [WRONG]);
    await addScriptedAgent(tenantId, [WRONG]);
    const input = await task(tenantId, { candidates: 2 });
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.equal(final.error?.type, 'NoCandidatePassed');
    assert.equal(final.verdict?.outcome, 'FAIL');
    assert.deepEqual(branches(input.repo), []);
  });

  it('a worker killed while the candidates run: another finishes them, and the choice is made once', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('best-of-n-crash');
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [RIGHT]);
    await addScriptedAgent(tenantId, [WRONG]);
    const input = await task(tenantId, {
      candidates: 2,
      gates: [CHECK, { name: 'slow', argv: ['sh', '-c', 'sleep 3'] }],
    });
    const child = await spawnWorker(taskQueue, stack.home);
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      await waitForState(input, (s) => s.candidates.some((c) => c.state === 'RUNNING'), 60_000);
      await waitForState(
        { tenantId, taskId: candidateTaskId(input.taskId, 1) },
        (s) => s.subState === 'gate:slow',
        60_000,
      );
      await killHard(child);
      const replacement = await stack.startWorker(taskQueue);
      try {
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        assert.equal(final.candidates.filter((c) => c.chosen).length, 1);
        assert.equal((await payloadOf(tenantId, input.taskId)).length, 1, 'one verdict for the task');
        const events = await persistedEvents(input);
        assert.deepEqual(
          events.map((e) => e.seq),
          final.history.map((_, i) => i),
          'one event per transition, none twice',
        );
        const learned = await stack.database.db
          .select()
          .from(agentOutcomes)
          .where(and(eq(agentOutcomes.tenantId, tenantId), like(agentOutcomes.taskId, `${input.taskId}%`)));
        assert.equal(learned.length, 2, 'each candidate counted once');
      } finally {
        await stopWorker(replacement);
      }
    } finally {
      await client.close();
    }
  });

  it("a submitter cannot take a candidate's id, and a run started by hand cannot pose as a candidate", async () => {
    const tenantId = uniqueId('tenant');
    await addScriptedAgent(tenantId, [RIGHT]);
    const squat = await task(tenantId);
    await assert.rejects(
      testStack().client.submit({ ...squat, taskId: candidateTaskId('victim', 1) }),
      /reserved for the candidates of a task/,
    );
    await assert.rejects(
      testStack().client.submit({
        ...squat,
        taskId: candidateTaskId('victim', 1),
        candidateOf: { taskId: 'victim', index: 1 },
      }),
      /candidateOf is set only by a task/,
      'a submitter cannot use a candidate id up before its task does',
    );
    const input = { ...squat, taskId: candidateTaskId('victim', 1), candidateOf: { taskId: 'victim', index: 1 } };
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start('taskLifecycle', {
      taskQueue,
      workflowId: taskWorkflowId(input),
      args: [input],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(
      String(err.cause?.message),
      /a candidate runs only as a child of task\/.*\/victim; its parent is none/,
    );
    const history = await handle.fetchHistory();
    assert.equal((history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length, 0);
  });
});
