/**
 * Nothing written into a workspace tree can make git run a program on the worker host: the
 * git directory lives outside the tree and every call names it. Runs the real activities
 * through the SDK's activity environment.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { upsertAgent } from '../../db/agents';
import type { PreparedWorkspace } from '../../domain/activity-io';
import type { WorkingSpec } from '../../domain/spec';
import { TargetRepoError } from '../../domain/errors';
import { createCommandRunner } from '../../host/sandbox/commands';
import { createFileTools } from '../../host/sandbox/file-tools';
import { borrowObjects, taskSandboxUser } from '../../host/workspace';
import { gitIn, makeRepo, registeredPath, uniqueId } from '../helpers/fixtures';
import { tempDir } from '../helpers/temp';
import { testActivityDeps, testSandboxConfig, testStack } from '../helpers/stack';
import { prepareOwned, routeTo } from '../helpers/tasks';

describe('workspace git isolation', function () {
  this.timeout(60_000);

  it('ignores hooks, fsmonitor and a forged .git written into the tree', async () => {
    const activities = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment();
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const repo = await registeredPath(tenantId);
    const ws = (await prepareOwned(env, activities, { tenantId, taskId, repoPath: repo })) as PreparedWorkspace;
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
      prepareOwned(env, activities, { tenantId, taskId: uniqueId('task'), repoPath: repo }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'TargetRepoError' &&
        /holds 4 files, more than a workspace may \(ARBITER_WORKSPACE_MAX_ENTRIES, 3\)/.test(err.message),
    );
  });

  /** A prepared workspace, routed to a scripted agent that edits src/app.js and deletes README.md, and its executeAgent input. */
  async function scriptedAttempt() {
    const { database } = testStack();
    const deps = testActivityDeps();
    const activities = createActivities(deps);
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
    const ws = (await prepareOwned(env, activities, {
      tenantId,
      taskId,
      repoPath: await registeredPath(
        tenantId,
        makeRepo({ 'src/app.js': 'module.exports = 1;\n', 'README.md': '# target\n', 'docs/kept.md': 'kept\n' }),
      ),
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
    const sandboxUser = taskSandboxUser(deps.home, deps.sandbox);
    const runCommand = createCommandRunner({ sandbox: deps.sandbox, sandboxUser, warn: () => undefined });
    const tools = createFileTools({ db: database.db, sandbox: deps.sandbox, sandboxUser });
    /** The two ways anything touches a tree: a command run in it, and a file tool writing into it. */
    const touch = {
      command: () =>
        runCommand({
          ...input,
          argv: ['sh', '-c', 'echo stray > stray.txt'],
          policy: { allowShell: true },
          timeoutMs: 10_000,
          purpose: 'agent',
        }),
      fileTool: () =>
        tools.fileWrite({
          ...input,
          path: 'stray.txt',
          content: 'stray\n',
          policy: { scopeIn: ['**'], scopeOut: [], riskTier: 3, allowShell: false },
        }),
    };
    return { env, activities, input, ws, touch };
  }

  it('executeAgent starts from the base commit on every attempt', async () => {
    const { env, activities, input, ws } = await scriptedAttempt();
    await env.run(activities.executeAgent, input);
    writeFileSync(path.join(ws.workspacePath, 'leftover.txt'), 'from a dead attempt');
    await env.run(activities.executeAgent, input); // a retry must not trip over its own earlier edits
    assert.equal(readFileSync(path.join(ws.workspacePath, 'src', 'app.js'), 'utf8'), 'module.exports = 2;\n');
    assert.equal(existsSync(path.join(ws.workspacePath, 'README.md')), false);
    assert.equal(existsSync(path.join(ws.workspacePath, 'leftover.txt')), false);
  });

  it('executeAgent keeps the checkout its workspace was prepared with only while nothing ran in it', async () => {
    const kept = (ws: PreparedWorkspace) =>
      statSync(path.join(ws.workspacePath, 'docs', 'kept.md'), { bigint: true }).ctimeNs;
    const untouched = await scriptedAttempt();
    const before = kept(untouched.ws);
    await untouched.env.run(untouched.activities.executeAgent, untouched.input);
    assert.equal(kept(untouched.ws), before, 'the checkout prepareWorkspace made is the one the agent started from');

    // Anything that touched the tree since (here leaving a file behind) makes the agent's step check out again.
    for (const how of ['command', 'fileTool'] as const) {
      const touched = await scriptedAttempt();
      const was = kept(touched.ws);
      await touched.touch[how]();
      assert.ok(existsSync(path.join(touched.ws.workspacePath, 'stray.txt')), how);
      await touched.env.run(touched.activities.executeAgent, touched.input);
      const stray = existsSync(path.join(touched.ws.workspacePath, 'stray.txt'));
      assert.equal(stray, false, `after a ${how}, the stray file went with the reset`);
      assert.notEqual(kept(touched.ws), was, `after a ${how}, checked out again`);
      const app = readFileSync(path.join(touched.ws.workspacePath, 'src', 'app.js'), 'utf8');
      assert.equal(app, 'module.exports = 2;\n');
    }
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
    const ws = (await prepareOwned(env, activities, {
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
    const ws = (await prepareOwned(env, activities, {
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
