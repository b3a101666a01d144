/**
 * The lifecycle's less travelled paths on the real stack: agent and repository failures,
 * delivery conflicts, hand-started workflows with bad input, agent capacity, and proof that
 * what is delivered is exactly what was verified.
 */
import assert from 'node:assert/strict';
import { realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidTaskInputError } from '../../client/arbiter-client';
import { TASK_WORKFLOW_TYPE } from '../../temporal-config';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, taskInput, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitForState } from '../helpers/wait';
import { workspaceDirs } from '../../host/git';
import { runToEnd } from '../helpers/tasks';

describe('taskLifecycle edges (real Temporal + PostgreSQL)', function () {
  this.timeout(90_000);

  it("fails EXECUTING when the agent's plan cannot apply, blaming the agent", async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, [{ op: 'replace', path: 'src/app.js', search: 'no such text', replace: 'x' }]);
    const final = await runToEnd(await taskInput(tenant, makeRepo()));
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['EXECUTING', 'FAILED']);
    assert.equal(final.error?.type, 'AgentFailedError');
    assert.match(
      final.error?.message ?? '',
      /search text must match exactly once in 'src\/app\.js'; it matches 0 times/,
    );
  });

  it('fails with TargetRepoError for a registered repository gone from disk, or a missing base ref', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const gone = realpathSync(makeRepo());
    const goneTask = await taskInput(tenant, gone);
    rmSync(gone, { recursive: true, force: true });
    const missing = await runToEnd(goneTask);
    assert.equal(missing.state, 'FAILED');
    assert.equal(missing.error?.type, 'TargetRepoError');
    assert.ok(missing.error?.message.includes(`'${gone}' does not exist`), missing.error?.message);
    const badRef = await runToEnd(await taskInput(tenant, makeRepo(), { baseRef: 'no-such-branch' }));
    assert.equal(badRef.error?.type, 'TargetRepoError');
    assert.match(badRef.error?.message ?? '', /'no-such-branch' does not name a commit/);
    // One git cannot resolve at all: named as the ref's problem, not as the repository's.
    const noUpstream = await runToEnd(await taskInput(tenant, makeRepo(), { baseRef: '@{u}' }));
    assert.equal(noUpstream.error?.type, 'TargetRepoError');
    assert.match(
      noUpstream.error?.message ?? '',
      /'@\{u\}' does not name a commit in .*: fatal: no upstream configured/,
    );
  });

  it('never overwrites an existing delivery branch', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo);
    gitIn(repo, 'branch', `arbiter/${input.taskId}`);
    const before = gitIn(repo, 'rev-parse', `arbiter/${input.taskId}`);
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED');
    assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['VERIFIED', 'FAILED']);
    assert.equal(final.error?.type, 'DeliveryConflictError');
    assert.equal(gitIn(repo, 'rev-parse', `arbiter/${input.taskId}`), before);
  });

  it('delivers the verified tree, not what the workspace holds after it was measured', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo, { gates: [{ name: 'slow', argv: ['sleep', '4'] }] });
    await testStack().client.submit(input);
    // Gates run in checkouts of their own: what changes the workspace now is anything but a gate.
    await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
    const { tree } = workspaceDirs(testStack().home, tenant, input.taskId);
    writeFileSync(path.join(tree, 'src', 'after-verify.js'), 'sneaky\n');
    const final = await testStack().client.watch(input);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const files = gitIn(repo, 'ls-tree', '-r', '--name-only', `arbiter/${input.taskId}`).split('\n');
    assert.ok(files.includes('src/feature.js'));
    assert.ok(!files.includes('src/after-verify.js'), files.join(', '));
    assert.equal(gitIn(repo, 'rev-parse', `arbiter/${input.taskId}^{tree}`), final.diff?.treeId);
  });

  it('a hand-started workflow with bad input fails at once, naming the problems', async () => {
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: `task/${uniqueId('tenant')}/${uniqueId('task')}`,
      args: [{ tenantId: 'ok', taskId: 'bad id!', repoPath: 'relative/path' }],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.match(
      String(err.cause?.message),
      /invalid task input: .*taskId: .*specYaml: .*repo: Required.*Unrecognized key\(s\) in object: 'repoPath'/,
    );
  });

  it('refuses ids git cannot use as branch names before starting anything', async () => {
    for (const taskId of ['x.lock', 'trailing.', 'a:b', 'a..b']) {
      await assert.rejects(
        testStack().client.submit(await taskInput('tenant', makeRepo(), { taskId })),
        InvalidTaskInputError,
        taskId,
      );
    }
  });

  it('holds an agent to its concurrency limit: the second task waits in ROUTING, then runs', async () => {
    const tenant = uniqueId('tenant');
    const agentId = uniqueId('single');
    await addScriptedAgent(tenant, GOOD_PLAN, { id: agentId, maxConcurrency: 1 });
    const slow = { gates: [{ name: 'slow', argv: ['sleep', '3'] }] };
    const first = await taskInput(tenant, makeRepo(), slow);
    const second = await taskInput(tenant, makeRepo(), slow);
    const { client } = testStack();
    await client.submit(first);
    await client.submit(second);
    const [a, b] = await Promise.all([client.watch(first, undefined, 200), client.watch(second, undefined, 200)]);
    assert.equal(a.state, 'COMPLETED', JSON.stringify(a.error));
    assert.equal(b.state, 'COMPLETED', JSON.stringify(b.error));
    const [earlier, later] = Date.parse(a.history[4].at) <= Date.parse(b.history[4].at) ? [a, b] : [b, a];
    const earlierDone = Date.parse(earlier.history.at(-1)!.at);
    const laterRouted = Date.parse(later.history.find((h) => h.state === 'ROUTED')!.at);
    assert.ok(
      laterRouted >= earlierDone,
      `second task routed at ${laterRouted} before the first ended at ${earlierDone}`,
    );
  });
});
