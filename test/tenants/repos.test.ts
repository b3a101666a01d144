/**
 * Issue #10, "tenants kept apart": a task names a registered repository, never a path. Played as
 * a hostile submitter would: naming another tenant's repository, a name nobody registered, or
 * slipping a `repoPath` past the schema, each ends before anything is cloned or read.
 */
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidTaskInputError } from '../../client/arbiter-client';
import { TASK_WORKFLOW_TYPE, taskWorkflowId } from '../../temporal-config';
import { arbiter, cliEnv } from '../helpers/cli';
import {
  addScriptedAgent,
  gitIn,
  GOOD_PLAN,
  makeRepo,
  registerRepo,
  specYaml,
  tempDir,
  uniqueId,
} from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

/** Nothing of the task was prepared: no workspace, no routing, no agent run. */
function assertNothingCloned(tenantId: string, taskId: string): void {
  const workspace = path.join(testStack().home, 'workspaces', tenantId, taskId);
  assert.equal(existsSync(workspace), false, `a workspace was prepared at ${workspace}`);
}

describe('tenants: registered repositories', function () {
  this.timeout(90_000);

  it("a task naming another tenant's repository is REJECTED naming repo and tenant, and nothing is cloned", async () => {
    const [victim, attacker] = [uniqueId('victim'), uniqueId('attacker')];
    await addScriptedAgent(attacker, GOOD_PLAN);
    const victimDir = makeRepo();
    const victimRepo = await registerRepo(victim, victimDir);
    const headBefore = gitIn(victimDir, 'rev-parse', 'HEAD');
    const input = { tenantId: attacker, taskId: uniqueId('task'), specYaml: specYaml(), repo: victimRepo };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'UnknownRepoError');
    assert.match(
      final.error?.message ?? '',
      new RegExp(`repository '${victimRepo}' is not registered for tenant '${attacker}'`),
    );
    assert.equal(final.routing, null, 'never routed');
    assert.equal(final.workspace, null, 'no workspace');
    assertNothingCloned(attacker, input.taskId);
    assert.equal(gitIn(victimDir, 'rev-parse', 'HEAD'), headBefore);
    assert.equal(gitIn(victimDir, 'for-each-ref', 'refs/heads/arbiter/'), '');
  });

  it('a name nobody registered is REJECTED the same way (no hint whether another tenant has it)', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const input = { tenantId: tenant, taskId: uniqueId('task'), specYaml: specYaml(), repo: 'no-such-repo' };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED');
    assert.equal(final.error?.type, 'UnknownRepoError');
    assert.match(final.error?.message ?? '', /repository 'no-such-repo' is not registered for tenant/);
    assertNothingCloned(tenant, input.taskId);
  });

  it("a registration that is not a repository's own top (made before repos add refused one) fails the task before any clone", async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const outer = makeRepo({ 'src/app.js': 'module.exports = 1;\n' });
    const repo = await registerRepo(tenant, path.join(outer, 'src'));
    const input = { tenantId: tenant, taskId: uniqueId('task'), specYaml: specYaml(), repo };
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'TargetRepoError');
    assert.match(final.error?.message ?? '', /is not a repository's own top: its git directory is /);
    assert.equal(final.workspace, null, 'no workspace');
    assertNothingCloned(tenant, input.taskId);
    assert.equal(gitIn(outer, 'for-each-ref', 'refs/heads/arbiter/'), '');
  });

  it('a repoPath (or any unknown field) is refused by the client and by a hand-started workflow', async () => {
    const tenant = uniqueId('tenant');
    const repo = await registerRepo(tenant);
    const hostile = { tenantId: tenant, taskId: uniqueId('task'), specYaml: specYaml(), repo, repoPath: '/etc' };
    await assert.rejects(testStack().client.submit(hostile), (err: Error) => {
      assert.ok(err instanceof InvalidTaskInputError);
      assert.match(err.message, /Unrecognized key\(s\) in object: 'repoPath'/);
      return true;
    });
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      taskQueue,
      workflowId: taskWorkflowId(hostile),
      args: [hostile],
    });
    const err = await handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.match(String(err.cause?.message), /Unrecognized key\(s\) in object: 'repoPath'/);
    assertNothingCloned(tenant, hostile.taskId);
  });

  it('the input schema refuses a path, or anything but a plain name, as the repo', async () => {
    for (const repo of ['/etc', '../other', 'a/b', 'UPPER', '', 'x'.repeat(64)]) {
      const input = { tenantId: 'acme', taskId: uniqueId('task'), specYaml: specYaml(), repo };
      await assert.rejects(testStack().client.submit(input), InvalidTaskInputError, repo);
    }
  });

  it('arbiter repos add registers an existing git repository by its real path; list and remove work per tenant', async () => {
    const env = cliEnv();
    const [tenant, other] = [uniqueId('tenant'), uniqueId('other')];
    const dir = makeRepo();
    const name = uniqueId('app');
    const relative = path.relative(process.cwd(), dir);
    const add = await arbiter(['repos', 'add', '--tenant', tenant, name, relative], env);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, new RegExp(`${tenant}/${name} -> ${realpathSync(dir)}`));
    const again = await arbiter(['repos', 'add', '--tenant', tenant, name, dir], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already has a repository/);
    // Another tenant's delivery branches would land beside these: arbiter/T-42 of either.
    const shared = await arbiter(['repos', 'add', '--tenant', other, uniqueId('app'), dir], env);
    assert.equal(shared.code, 1, shared.stdout);
    assert.match(
      shared.stderr,
      new RegExp(`is already registered for tenant ${tenant}: a repository serves one tenant`),
    );
    const notGit = await arbiter(['repos', 'add', '--tenant', tenant, uniqueId('x'), path.dirname(dir)], env);
    assert.notEqual(notGit.code, 0);
    assert.match(notGit.stderr, /not a git repository/);
    // Each shares another repository's refs: two tenants' tasks would deliver into one.
    const inside = path.join(makeRepo(), 'src');
    const worktree = path.join(tempDir('arbiter-worktree-'), 'wt');
    gitIn(dir, 'worktree', 'add', '--quiet', worktree);
    for (const borrowed of [inside, worktree]) {
      const refused = await arbiter(['repos', 'add', '--tenant', other, uniqueId('x'), borrowed], env);
      assert.equal(refused.code, 2, refused.stdout);
      assert.match(refused.stderr, /is not a repository's own top: its git directory is /);
    }
    const missing = await arbiter(['repos', 'add', '--tenant', tenant, uniqueId('x'), '/nonexistent/repo'], env);
    assert.equal(missing.code, 2);
    const badName = await arbiter(['repos', 'add', '--tenant', tenant, '../evil', dir], env);
    assert.equal(badName.code, 2);
    const listed = await arbiter(['repos', 'list', '--tenant', tenant, '--json'], env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as Array<{ name: string; path: string }>).map((r) => [r.name, r.path]),
      [[name, realpathSync(dir)]],
    );
    const otherList = await arbiter(['repos', 'list', '--tenant', other, '--json'], env);
    assert.deepEqual(JSON.parse(otherList.stdout), [], 'another tenant does not see it');
    const removeOther = await arbiter(['repos', 'remove', '--tenant', other, name], env);
    assert.equal(removeOther.code, 1, 'another tenant cannot remove it');
    const removed = await arbiter(['repos', 'remove', '--tenant', tenant, name], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(JSON.parse((await arbiter(['repos', 'list', '--tenant', tenant, '--json'], env)).stdout), []);
  });
});
