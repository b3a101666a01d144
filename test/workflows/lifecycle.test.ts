/**
 * The task lifecycle end to end on a real Temporal dev server and real PostgreSQL: every path
 * the design names, asserted through the client, the database and the target repository.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { projectRoot } from '../../client/paths';
import { setAgentStatus } from '../../db/agents';
import { artifacts, routingDecisions, sandboxEvents, tasks, verdicts } from '../../db/schema';
import { HAPPY_PATH } from '../../domain/lifecycle';
import { ATTEMPT_FILE } from '../../host/workspace-lock';
import { taskWorkflowId } from '../../temporal-config';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, specYaml, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { decodedHistory, occurrences } from '../helpers/history';
import { runToEnd } from '../helpers/tasks';
import { persistedEvents, waitFor } from '../helpers/wait';

describe('taskLifecycle (real Temporal + PostgreSQL)', function () {
  this.timeout(90_000);

  it('walks the happy path to COMPLETED, persists every transition in order and delivers a branch', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const headBefore = gitIn(repo, 'rev-parse', 'HEAD');
    const input = await taskInput(tenant, repo, {
      gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] }],
    });

    const submitted = await testStack().client.submit(input);
    const final = await testStack().client.watch(input, undefined, 200);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.deepEqual(
      final.history.map((h) => h.state),
      HAPPY_PATH,
    );
    assert.equal(final.routing?.agentId, agent.id);
    assert.equal(final.verdict?.outcome, 'PASS');
    assert.match(final.verdict?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(
      final.gates.map((g) => [g.name, g.status]),
      [
        ['budget', 'pass'],
        ['scope', 'pass'],
        ['spec', 'pass'],
        ['protected', 'pass'],
        ['tree', 'pass'],
        ['check', 'pass'],
      ],
    );

    const events = await persistedEvents(input as { tenantId: string; taskId: string });
    assert.deepEqual(
      events.map((e) => e.toState),
      HAPPY_PATH,
    );
    assert.deepEqual(
      events.map((e) => e.seq),
      HAPPY_PATH.map((_, i) => i),
    );
    assert.deepEqual(
      events.slice(1).map((e) => e.fromState),
      HAPPY_PATH.slice(0, -1),
    );

    const { db } = testStack().database;
    const [row] = await db
      .select()
      .from(tasks)
      .where(and(eq(tasks.tenantId, tenant), eq(tasks.id, input.taskId)));
    assert.equal(row.state, 'COMPLETED');
    assert.equal(row.agentId, agent.id);
    assert.equal(row.verdict, 'PASS');
    assert.equal(row.runId, submitted.runId, 'the task row names the run that owns it');
    const [verdict] = await db.select().from(verdicts).where(eq(verdicts.taskId, input.taskId));
    assert.equal(verdict.digest, final.verdict?.digest);
    assert.equal(verdict.runId, submitted.runId, 'the verdict is keyed by its run');
    const [patch] = await db
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.taskId, input.taskId), eq(artifacts.kind, 'patch')));
    assert.equal(patch.encoding, 'base64');
    assert.match(Buffer.from(patch.content, 'base64').toString('utf8'), /\+module\.exports = \(\) => 42;/);

    const branch = `arbiter/${input.taskId}`;
    assert.equal(final.delivery?.branch, branch);
    assert.equal(gitIn(repo, 'rev-parse', branch), final.delivery?.commit);
    assert.equal(gitIn(repo, 'show', `${branch}:src/feature.js`), 'module.exports = () => 42;');
    assert.match(
      gitIn(repo, 'log', '-1', '--format=%B', branch),
      new RegExp(`Arbiter-Verdict: ${final.verdict?.digest}`),
    );
    assert.equal(
      gitIn(repo, 'rev-parse', `${branch}^{tree}`),
      final.diff?.treeId,
      'the delivered tree is the verified tree',
    );
    assert.equal(gitIn(repo, 'rev-parse', `${branch}^`), headBefore, 'the delivered commit sits on the base commit');
    assert.equal(gitIn(repo, 'rev-parse', 'HEAD'), headBefore, 'target HEAD must not move');
    assert.equal(gitIn(repo, 'branch', '--show-current'), 'main');
    assert.equal(gitIn(repo, 'status', '--porcelain'), '', 'target working tree must be untouched');
    const workspaceRoot = path.join(testStack().home, 'workspaces', tenant, input.taskId);
    // Released: emptied, its uid lease with it; the root keeps the attempt mark until the sweep.
    // The marker is written first, then the rest emptied: wait for the end state.
    const released = [ATTEMPT_FILE, 'retained-until'].sort();
    await waitFor('the workspace to be released', async () => {
      const left = existsSync(workspaceRoot) ? readdirSync(workspaceRoot).sort() : [];
      return left.join() === released.join();
    });
    assert.deepEqual(readdirSync(workspaceRoot).sort(), released);
  });

  it('carries the spec by reference: history holds it only in the input', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const marker = uniqueId('spec-marker');
    const input = await taskInput(tenant, makeRepo(), {
      specYaml: specYaml({ invariants: [marker] }),
      gates: [{ name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] }],
    });

    const final = await runToEnd(input);

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const { runId } = await testStack().client.temporal.workflow.getHandle(taskWorkflowId(input)).describe();
    const history = await decodedHistory(taskWorkflowId(input));
    const ref = `spec/${tenant}/${input.taskId}/${runId}`;
    // The validation result, the agent run and the budget-and-scope check each name the stored spec.
    assert.ok(occurrences(history, ref) >= 3, `the activities name the stored spec ${ref}`);
    assert.equal(
      occurrences(history, marker),
      1,
      'the spec: in the input YAML only (validation returns its essentials)',
    );
  });

  it('is findable by its search attributes once COMPLETED', async () => {
    const tenant = uniqueId('tenant');
    const agent = await addScriptedAgent(tenant, GOOD_PLAN);
    const input = await taskInput(tenant, makeRepo());
    const final = await runToEnd(input);
    assert.equal(final.state, 'COMPLETED');
    const query = `ArbiterState="COMPLETED" AND TenantId="${tenant}" AND RiskTier=3 AND Verdict="PASS" AND AgentId="${agent.id}"`;
    const found = await waitFor('visibility', async () => {
      const ids: string[] = [];
      for await (const wf of testStack().client.temporal.workflow.list({ query })) ids.push(wf.workflowId);
      return ids.length ? ids : undefined;
    });
    assert.deepEqual(found, [taskWorkflowId(input as { tenantId: string; taskId: string })]);
  });

  it('rejects an invalid spec with every problem named', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const bad = specYaml({ risk_tier: 7, acceptance: undefined, title: undefined });
    const final = await runToEnd(await taskInput(tenant, makeRepo(), { specYaml: bad }));
    assert.equal(final.state, 'REJECTED');
    assert.deepEqual(
      final.history.map((h) => h.state),
      ['RECEIVED', 'VALIDATING_SPEC', 'REJECTED'],
    );
    assert.equal(final.error?.type, 'SpecInvalidError');
    const problems = final.error?.problems ?? [];
    assert.ok(
      problems.some((p) => p.startsWith('risk_tier')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('acceptance')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('title')),
      problems.join('\n'),
    );
  });

  it('rejects the corpus negative fixture when the current CAWS format is required', async () => {
    const negative = readFileSync(
      `${projectRoot()}/test/fixtures/caws-corpus/negative/dx-improvements-working-spec.yaml`,
      'utf8',
    );
    const final = await runToEnd(
      await taskInput(uniqueId('tenant'), makeRepo(), { specYaml: negative, specFormat: 'current' }),
    );
    assert.equal(final.state, 'REJECTED');
    assert.ok(
      (final.error?.problems ?? []).some((p) => p.startsWith('change_budget')),
      JSON.stringify(final.error),
    );
  });

  it('fails with the reason when no agent is capable', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN, { taskTypes: ['refactor'] });
    const final = await runToEnd(await taskInput(tenant, makeRepo()));
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['ROUTING', 'FAILED']);
    assert.equal(final.error?.type, 'NoCapableAgentError');
    assert.match(
      final.error?.message ?? '',
      /no capable agent for task type 'feature'.*does not handle task type 'feature'/,
    );
  });

  it('refuses a requested agent that cannot take the task', async () => {
    const tenant = uniqueId('tenant');
    const paused = await addScriptedAgent(tenant, GOOD_PLAN);
    await addScriptedAgent(tenant, GOOD_PLAN);
    await setAgentStatus(testStack().database.db, paused.id, 'paused');
    const final = await runToEnd(await taskInput(tenant, makeRepo(), { agentHint: paused.id }));
    assert.equal(final.state, 'FAILED');
    assert.match(
      final.error?.message ?? '',
      new RegExp(`requested agent '${paused.id}' cannot take the task: agent is paused`),
    );
    const decisions = await testStack()
      .database.db.select()
      .from(routingDecisions)
      .where(eq(routingDecisions.tenantId, tenant));
    assert.equal(decisions.length, 0);
  });

  it('fails on a failing gate and delivers nothing', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo, {
      gates: [{ name: 'tests', argv: ['node', '-e', 'console.log("1 failing"); process.exit(1)'] }],
    });
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['VERIFYING', 'FAILED']);
    assert.equal(final.verdict?.outcome, 'FAIL');
    const gate = final.gates.find((g) => g.name === 'tests');
    assert.equal(gate?.status, 'fail');
    assert.equal(gate?.exitCode, 1);
    assert.match(gate?.outputTail ?? '', /1 failing/);
    assert.equal(gitIn(repo, 'branch', '--list', `arbiter/${input.taskId}`), '', 'no branch may be delivered');
  });

  it('refuses a write outside scope.in at write time: FAILED, violation recorded, nothing delivered', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [...GOOD_PLAN, { op: 'write', path: 'README.md', content: 'rewritten\n' }]);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo);
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['EXECUTING', 'FAILED']);
    assert.equal(final.error?.type, 'PolicyViolationError');
    assert.deepEqual(final.violations, [
      { op: 'file_write', path: 'README.md', reason: "'README.md' is not in scope.in" },
    ]);
    const recorded = await testStack()
      .database.db.select()
      .from(sandboxEvents)
      .where(and(eq(sandboxEvents.tenantId, tenant), eq(sandboxEvents.allowed, false)));
    assert.deepEqual(
      recorded.map((r) => [r.op, r.path, r.reason]),
      [['file_write', 'README.md', "'README.md' is not in scope.in"]],
    );
    assert.equal(gitIn(repo, 'branch', '--list', `arbiter/${input.taskId}`), '');
  });

  it('fails the scope gate when a command writes outside scope.in', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [
      ...GOOD_PLAN,
      { op: 'run', argv: ['cp', 'src/app.js', 'copied.js'], timeoutSeconds: 30 },
    ]);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo);
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    const scope = final.gates.find((g) => g.name === 'scope');
    assert.equal(scope?.status, 'fail');
    assert.match(scope?.detail ?? '', /copied\.js \(not in scope\.in\)/);
    assert.equal(gitIn(repo, 'branch', '--list', `arbiter/${input.taskId}`), '');
  });

  it('fails a change over the spec budget', async () => {
    const tenant = uniqueId('tenant');
    const steps = [1, 2, 3].map((i) => ({ op: 'write' as const, path: `src/f${i}.js`, content: `${i}\n` }));
    await addScriptedAgent(tenant, steps);
    const legacy = specYaml({ lifecycle_state: undefined, change_budget: { max_files: 2, max_loc: 100 } });
    const final = await runToEnd(await taskInput(tenant, makeRepo(), { specYaml: legacy }));
    assert.equal(final.state, 'FAILED');
    const budget = final.gates.find((g) => g.name === 'budget');
    assert.equal(budget?.status, 'fail');
    assert.match(budget?.detail ?? '', /3\/2 files/);
  });

  it('attaches a duplicate submission to the existing run, never starting a second', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const input = await taskInput(tenant, makeRepo(), { gates: [{ name: 'slow', argv: ['sleep', '2'] }] });
    const { client } = testStack();
    const first = await client.submit(input);
    const second = await client.submit(input);
    assert.equal(first.attached, false);
    assert.equal(second.attached, true);
    assert.equal(second.runId, first.runId);
    assert.equal(second.ended, undefined, 'a running task has not ended');
    await client.watch(input, undefined, 200);
    const third = await client.submit(input);
    assert.equal(third.attached, true, 'a finished task is attached to, not re-run');
    assert.equal(third.runId, first.runId);
    assert.equal(third.ended, 'COMPLETED', 'the submitter learns the task already ended');
    const runs: string[] = [];
    for await (const wf of client.temporal.workflow.list({ query: `WorkflowId="${first.workflowId}"` }))
      runs.push(wf.runId);
    assert.deepEqual(runs, [first.runId]);
  });
});
