/**
 * Nothing written into a workspace tree can make git run a program on the worker host: the
 * git directory lives outside the tree and every call names it. Runs the real activities
 * through the SDK's activity environment.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { upsertAgent } from '../../db/agents';
import type { PreparedWorkspace } from '../../domain/activity-io';
import type { WorkingSpec } from '../../domain/spec';
import { TargetRepoError } from '../../domain/errors';
import { borrowObjects } from '../../host/workspace';
import { gitIn, makeRepo, registeredPath, uniqueId } from '../helpers/fixtures';
import { tempDir } from '../helpers/temp';
import { testActivityDeps, testSandboxConfig, testStack } from '../helpers/stack';
import { routeTo } from '../helpers/tasks';

describe('workspace git isolation', function () {
  this.timeout(60_000);

  it('ignores hooks, fsmonitor and a forged .git written into the tree', async () => {
    const activities = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment();
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const repo = await registeredPath(tenantId);
    const ws = (await env.run(activities.prepareWorkspace, { tenantId, taskId, repoPath: repo })) as PreparedWorkspace;
    assert.equal(existsSync(path.join(ws.workspacePath, '.git')), false, 'the tree carries no git directory');

    const pwned = path.join(os.tmpdir(), `${uniqueId('pwned')}`);
    const forged = path.join(ws.workspacePath, '.git');
    mkdirSync(path.join(forged, 'hooks'), { recursive: true });
    writeFileSync(path.join(forged, 'config'), `[core]\n\tfsmonitor = touch ${pwned}\n\thooksPath = hooks\n`);
    writeFileSync(path.join(forged, 'hooks', 'pre-commit'), `#!/bin/sh\ntouch ${pwned}\n`, { mode: 0o755 });
    writeFileSync(path.join(ws.workspacePath, 'src', 'new.js'), 'module.exports = 2;\n');

    const diff: { filesChanged: number } = await env.run(activities.measureDiff, {
      tenantId,
      taskId,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
    });
    assert.equal(diff.filesChanged, 1, 'only the real change is measured, not the forged .git');
    assert.equal(existsSync(pwned), false, 'no program from the tree ran');
    assert.equal(gitIn(repo, 'status', '--porcelain'), '');
    assert.match(readFileSync(path.join(ws.workspacePath, 'src', 'new.js'), 'utf8'), /2/);
  });

  it("refuses a base whose checkout holds more files than a workspace may, as the repository's, not the agent's", async () => {
    const base = testSandboxConfig();
    const sandbox = { ...base, limits: { ...base.limits, workspaceEntries: 3 } };
    const activities = createActivities(testActivityDeps({ sandbox }));
    const env = new MockActivityEnvironment();
    const tenantId = uniqueId('tenant');
    const repo = await registeredPath(
      tenantId,
      makeRepo({ 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n', 'd.txt': 'd\n' }),
    );
    await assert.rejects(
      env.run(activities.prepareWorkspace, { tenantId, taskId: uniqueId('task'), repoPath: repo }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'TargetRepoError' &&
        /holds 4 files, more than a workspace may \(ARBITER_WORKSPACE_MAX_ENTRIES, 3\)/.test(err.message),
    );
  });

  it('executeAgent starts from the base commit on every attempt', async () => {
    const { database } = testStack();
    const activities = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment();
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const agent = await upsertAgent(database.db, {
      id: uniqueId('agent'),
      tenantId,
      kind: 'scripted',
      config: {
        steps: [
          { op: 'replace', path: 'src/app.js', search: '= 1;', replace: '= 2;' },
          { op: 'delete', path: 'README.md' },
        ],
      },
    });
    const ws = (await env.run(activities.prepareWorkspace, {
      tenantId,
      taskId,
      repoPath: await registeredPath(tenantId),
    })) as PreparedWorkspace;
    const spec: WorkingSpec = {
      id: 'X',
      title: 'x',
      riskTier: 3,
      mode: 'feature',
      format: 'current',
      blastRadius: { modules: [], dataMigration: false },
      scope: { in: ['**'], out: [] },
      unenforceableScope: { in: [], out: [] },
      invariants: [],
      acceptance: [],
      nonFunctional: {},
      contracts: [],
      waiverIds: [],
    };
    await routeTo(env, activities, { tenantId, taskId }, agent.id);
    const input = {
      tenantId,
      taskId,
      agentId: agent.id,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
      spec,
    };
    await env.run(activities.executeAgent, input);
    writeFileSync(path.join(ws.workspacePath, 'leftover.txt'), 'from a dead attempt');
    await env.run(activities.executeAgent, input); // a retry must not trip over its own earlier edits
    assert.equal(readFileSync(path.join(ws.workspacePath, 'src', 'app.js'), 'utf8'), 'module.exports = 2;\n');
    assert.equal(existsSync(path.join(ws.workspacePath, 'README.md')), false);
    assert.equal(existsSync(path.join(ws.workspacePath, 'leftover.txt')), false);
  });

  it('prepares a base that no branch or tag reaches', async () => {
    const activities = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment();
    const repo = makeRepo();
    gitIn(repo, 'checkout', '-q', '-b', 'side');
    writeFileSync(path.join(repo, 'side.txt'), 'only on the side commit\n');
    gitIn(repo, 'add', 'side.txt');
    gitIn(repo, 'commit', '-q', '-m', 'side');
    const side = gitIn(repo, 'rev-parse', 'HEAD');
    gitIn(repo, 'update-ref', 'refs/keep/side', side);
    gitIn(repo, 'checkout', '-q', 'main');
    gitIn(repo, 'branch', '-q', '-D', 'side');
    const tenantId = uniqueId('tenant');
    const ws = (await env.run(activities.prepareWorkspace, {
      tenantId,
      taskId: uniqueId('task'),
      repoPath: await registeredPath(tenantId, repo),
      baseRef: side,
    })) as PreparedWorkspace;
    assert.equal(ws.baseCommit, side);
    assert.equal(readFileSync(path.join(ws.workspacePath, 'side.txt'), 'utf8'), 'only on the side commit\n');
  });

  it("reads the target's objects where they are: preparing copies none of its history, and the change's new objects are the workspace's", async () => {
    const activities = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment();
    const repo = makeRepo();
    // History the checkout does not need: 200 more commits.
    for (let i = 0; i < 200; i++) gitIn(repo, 'commit', '--quiet', '--allow-empty', '-m', `empty ${i}`);
    const targetObjects = () => gitIn(repo, 'count-objects', '-v');
    const before = targetObjects();
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const ws = (await env.run(activities.prepareWorkspace, {
      tenantId,
      taskId,
      repoPath: await registeredPath(tenantId, repo),
    })) as PreparedWorkspace;
    const gitDir = path.join(path.dirname(ws.workspacePath), 'git');
    const ownObjects = () =>
      readdirSync(path.join(gitDir, 'objects'), { recursive: true, withFileTypes: true }).filter(
        (e) => e.isFile() && !e.parentPath.endsWith('info'),
      ).length;
    assert.equal(ownObjects(), 0, "none of the target's objects were copied");
    assert.equal(readFileSync(path.join(ws.workspacePath, 'README.md'), 'utf8'), '# target\n');

    writeFileSync(path.join(ws.workspacePath, 'new.txt'), 'a change of its own\n');
    const diff: { filesChanged: number } = await env.run(activities.measureDiff, {
      tenantId,
      taskId,
      workspacePath: ws.workspacePath,
      baseCommit: ws.baseCommit,
    });
    assert.equal(diff.filesChanged, 1);
    assert.ok(ownObjects() > 0, "the change's objects are written to the workspace");
    assert.equal(targetObjects(), before, "no object is written to the target's store");
  });

  it('refuses to name a target object directory whose path holds a line break (a second, unchecked store)', async () => {
    const root = tempDir('arbiter-borrow-');
    const objectsDir = `${path.join(root, 'a')}\n${path.join(root, 'other')}`;
    await assert.rejects(
      borrowObjects(root, path.join(root, 'git'), { commit: 'c'.repeat(40), objectsDir, objectFormat: 'sha1' }),
      (err: unknown) => err instanceof TargetRepoError && /holds a control character/.test(err.message),
    );
    assert.equal(existsSync(path.join(root, 'git')), false, 'no git directory was made');
  });
});
