/**
 * The steps that build, judge or empty a task's workspace, and those that store its spec and
 * policy, act only for the run that owns the task. Found in review: an insider's own workflow,
 * under any id, rebuilt an open task's workspace at another commit of a registered repository
 * (the task's own run then measured that commit as its agent's change, gated and signed it), or
 * emptied it mid-run; and stored specs and policies under the task's id, which a reset run of the
 * task, having none of its own, would have judged by.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { AgentRunResult, DiffSummary, PreparedWorkspace, ValidateSpecResult } from '../../domain/activity-io';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { artifacts, gateResults, runPolicies } from '../../db/schema';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import {
  addScriptedAgent,
  gitIn,
  GOOD_PLAN,
  makeRepo,
  registeredPath,
  specYaml,
  tempDir,
  uniqueId,
} from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { ownTask, routeTo } from '../helpers/tasks';

const runOf = (workflowId: string) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId, runId: uniqueId('run') } }, { logger: SILENT_LOGGER });

describe("a task's workspace, spec and policy steps from a run that does not own it", function () {
  this.timeout(120_000);
  let a: ReturnType<typeof createActivities>;
  before(() => (a = createActivities(testActivityDeps())));

  /** A task its own run has validated, read the policy of, and prepared a workspace for, with the agent's work in it. */
  async function preparedTask() {
    const tenantId = uniqueId('tenant');
    const repoDir = makeRepo();
    gitIn(repoDir, 'checkout', '--quiet', '-b', 'other');
    writeFileSync(path.join(repoDir, 'src/planted.js'), 'module.exports = "planted";\n');
    gitIn(repoDir, 'add', '--all');
    gitIn(repoDir, 'commit', '--quiet', '-m', 'planted');
    gitIn(repoDir, 'checkout', '--quiet', 'main');
    const repoPath = await registeredPath(tenantId, repoDir);
    const ref = { tenantId, taskId: uniqueId('task') };
    const owner = runOf(taskWorkflowId(ref));
    await ownTask(owner, ref, repoPath);
    const v = (await owner.run(a.validateSpec, { ...ref, specYaml: specYaml() })) as ValidateSpecResult;
    await owner.run(a.loadRepoPolicy, { ...ref, repoPath });
    const ws = (await owner.run(a.prepareWorkspace, { ...ref, repoPath })) as PreparedWorkspace;
    writeFileSync(path.join(ws.workspacePath, 'src/app.js'), 'module.exports = 2;\n');
    return { ref, owner, repoPath, ws, specRef: v.specRef!, planted: gitIn(repoDir, 'rev-parse', 'other') };
  }

  it('refuses every step, and the task keeps its workspace, spec and policy', async () => {
    const { ref, repoPath, ws, specRef } = await preparedTask();
    const foreign = runOf(uniqueId('not-the-task'));
    const foreignRun = foreign.context.info.workflowExecution!.runId;
    const refused = /is run .*'s, not run/;
    const at = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
    await assert.rejects(foreign.run(a.prepareWorkspace, { ...ref, repoPath, baseRef: 'other' }), refused);
    await assert.rejects(foreign.run(a.releaseWorkspace, ref), refused);
    const wide = specYaml({ risk_tier: 3, scope: { in: ['./'], out: [] } });
    await assert.rejects(foreign.run(a.validateSpec, { ...ref, specYaml: wide }), refused);
    await assert.rejects(foreign.run(a.loadRepoPolicy, { ...ref, repoPath }), refused);
    await assert.rejects(foreign.run(a.measureDiff, at), refused);
    const gate = { name: 'lint', argv: ['true'], timeoutSeconds: 30 };
    await assert.rejects(
      foreign.run(a.runGate, { ...at, treeId: ws.baseCommit, gate, source: 'submitter' as const }),
      refused,
    );
    const setup = { argv: ['true'], outputs: ['node_modules'], registries: [], timeoutSeconds: 30 };
    await assert.rejects(foreign.run(a.installDependencies, { ...at, setup }), refused);
    await assert.rejects(
      foreign.run(a.checkBudgetAndScope, {
        ...at,
        treeId: ws.baseCommit,
        spec: specRef,
        policy: DEFAULT_REPO_POLICY,
        trustedCommit: ws.baseCommit,
      }),
      refused,
    );

    assert.ok(!existsSync(path.join(ws.workspacePath, 'src/planted.js')), 'the workspace was not rebuilt');
    assert.ok(existsSync(path.join(ws.workspacePath, 'src/app.js')), 'the workspace was not emptied');
    const { db } = testStack().database;
    const byForeign = (t: typeof artifacts | typeof runPolicies | typeof gateResults) =>
      db
        .select({ runId: t.runId })
        .from(t)
        .where(and(eq(t.tenantId, ref.tenantId), eq(t.taskId, ref.taskId), eq(t.runId, foreignRun)));
    for (const t of [artifacts, runPolicies, gateResults]) assert.deepEqual(await byForeign(t), []);
  });

  it("refuses the task's own run a repository other than the one its task records", async () => {
    const { ref, owner, ws } = await preparedTask();
    const elsewhere = await registeredPath(ref.tenantId);
    await assert.rejects(
      owner.run(a.prepareWorkspace, { ...ref, repoPath: elsewhere }),
      /is recorded in .*, not /,
      'the row records the repository at SPEC_APPROVED',
    );
    const diff = (await owner.run(a.measureDiff, {
      ...ref,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
    })) as DiffSummary;
    assert.equal(diff.filesChanged, 1, "the owner's own steps still act");
  });

  // Found in review: the owning run measured, judged and ran its agent from any commit of the
  // target, so another commit's difference became the agent's change.
  it("refuses the task's own run a base other than its workspace's, and a start from a tree it never measured", async () => {
    const { ref, owner, ws, specRef, planted } = await preparedTask();
    const agent = await addScriptedAgent(ref.tenantId, GOOD_PLAN);
    await routeTo(owner, a, ref, agent.id);
    const other = { ...ref, workspacePath: ws.workspacePath, baseCommit: planted };
    const refused = new RegExp(`WorkspaceBaseMismatchError|built from ${ws.baseCommit}, not from ${planted}`);
    await assert.rejects(owner.run(a.measureDiff, other), refused);
    const check = { treeId: ws.baseCommit, spec: specRef, policy: DEFAULT_REPO_POLICY, trustedCommit: planted };
    await assert.rejects(owner.run(a.checkBudgetAndScope, { ...other, ...check }), refused);
    await assert.rejects(owner.run(a.executeAgent, { ...other, agentId: agent.id, spec: specRef }), refused);
    const plantedTree = gitIn(path.dirname(ws.workspacePath) + '/git', 'rev-parse', `${planted}^{tree}`);
    const retry = { attempt: 2, feedback: 'again', startedAt: Date.now(), fromTree: plantedTree };
    const own = {
      ...ref,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
      agentId: agent.id,
      spec: specRef,
    };
    await assert.rejects(
      owner.run(a.executeAgent, { ...own, retry }),
      /tree [0-9a-f]{40} is no change the task measured from/,
    );
    const diff = (await owner.run(a.measureDiff, {
      ...ref,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
    })) as DiffSummary;
    const ran = (await owner.run(a.executeAgent, {
      ...own,
      retry: { ...retry, fromTree: diff.treeId },
    })) as AgentRunResult;
    assert.equal(ran.agentId, agent.id, 'a retry from the change the task measured runs');
  });

  // Found in review: the check was lexical; the agent's link `sub` took `<tree>/sub/../../tree` out of the workspace.
  it('refuses a workspace path spelled otherwise than prepareWorkspace returned it', async () => {
    const { ref, owner, ws, specRef } = await preparedTask();
    const agent = await addScriptedAgent(ref.tenantId, GOOD_PLAN);
    await routeTo(owner, a, ref, agent.id);
    const victim = tempDir('arbiter-victim-');
    mkdirSync(path.join(victim, 'a', 'b'), { recursive: true });
    mkdirSync(path.join(victim, 'tree'));
    writeFileSync(path.join(victim, 'tree', 'precious.txt'), 'keep me\n');
    symlinkSync(path.join(victim, 'a', 'b'), path.join(ws.workspacePath, 'sub'));
    const crafted = `${ws.workspacePath}/sub/../../tree`;
    assert.equal(path.resolve(crafted), ws.workspacePath, 'lexically the task workspace');
    const at = { ...ref, workspacePath: crafted, baseCommit: ws.baseCommit };
    await assert.rejects(owner.run(a.executeAgent, { ...at, agentId: agent.id, spec: specRef }), /is not task .*'s/);
    await assert.rejects(owner.run(a.measureDiff, at), /is not task .*'s/);
    assert.ok(existsSync(path.join(victim, 'tree', 'precious.txt')), 'the folder outside is untouched');
  });
});
