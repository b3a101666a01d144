/**
 * Overlapping attempts of `prepareWorkspace` and `releaseWorkspace` (a stalled attempt that goes on
 * after Temporal retried it), with real git on a real filesystem: they take turns, so the workspace
 * ends whole and owned by the one uid its lease names; an attempt scheduled before the one that last
 * changed the workspace changes nothing (the agent's work stays, a released workspace is not
 * rebuilt); and an attempt reads that mark only once it holds the lock.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { PreparedWorkspace } from '../../domain/activity-io';
import { WorkspaceAttemptSupersededError } from '../../domain/errors';
import { workspaceDirs } from '../../host/git';
import { runningAsRoot } from '../../host/sandbox/config';
import { heldSandboxUser, LEASE_FILE } from '../../host/sandbox/uid-leases';
import { ATTEMPT_FILE, claimWorkspace } from '../../host/workspace-lock';
import { SILENT_LOGGER } from '../../workers/logger';
import { makeRepo, registeredPath } from '../helpers/fixtures';
import { testActivityDeps, testSandboxConfig } from '../helpers/stack';
import { ownTask } from '../helpers/tasks';
import { traversableTempDir } from '../helpers/temp';
import { holdWorkspaceLock } from '../helpers/workspace-lock';

const FILES = 300;
const superseded = (err: Error & { type?: string }) => err.type === WorkspaceAttemptSupersededError.type;

describe('workspace attempts that overlap', function () {
  this.timeout(60_000);
  let repo: string;
  let home: string;
  let activities: ReturnType<typeof createActivities>;
  before(async () => {
    repo = await registeredPath(
      'tenant',
      makeRepo(Object.fromEntries(Array.from({ length: FILES }, (_, i) => [`src/f${i}.js`, `exports.n = ${i};\n`]))),
    );
  });
  beforeEach(() => {
    home = traversableTempDir('arbiter-prepare-');
    activities = createActivities(testActivityDeps({ home }));
  });

  /** An attempt the server scheduled at `scheduledMs`. */
  const env = (scheduledMs: number) =>
    new MockActivityEnvironment(
      { currentAttemptScheduledTimestampMs: scheduledMs, startToCloseTimeoutMs: 120_000 },
      { logger: SILENT_LOGGER },
    );
  /** An attempt of the run that owns `taskId`'s task. */
  const ownRun = async (taskId: string, scheduledMs: number) => {
    const e = env(scheduledMs);
    await ownTask(e, { tenantId: 'tenant', taskId });
    return e;
  };
  const prepare = async (taskId: string, scheduledMs: number) =>
    (await ownRun(taskId, scheduledMs)).run(activities.prepareWorkspace, {
      tenantId: 'tenant',
      taskId,
      repoPath: repo,
    }) as Promise<PreparedWorkspace>;
  const release = async (taskId: string, scheduledMs: number) =>
    (await ownRun(taskId, scheduledMs)).run(activities.releaseWorkspace, { tenantId: 'tenant', taskId });

  /** Lease links naming `root` (live or not). */
  const linksTo = (root: string) =>
    readdirSync(path.join(home, 'sandbox-uids')).filter(
      (n) => readlinkSync(path.join(home, 'sandbox-uids', n)) === root,
    );

  it('take turns: the workspace ends whole, owned by the one uid its lease names', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => prepare('t1', 1_000)));
    const ws = workspaceDirs(home, 'tenant', 't1');
    assert.deepEqual(new Set(results.map((r) => r.workspacePath)), new Set([ws.tree]));
    assert.equal(readdirSync(path.join(ws.tree, 'src')).length, FILES, 'every file of the base is there');
    const gitOut = (...args: string[]) =>
      execFileSync('git', ['--git-dir', ws.gitDir, ...args], { encoding: 'utf8' }).trim();
    assert.equal(
      gitOut('write-tree'),
      gitOut('rev-parse', `${results[0].baseCommit}^{tree}`),
      "the index is the base's",
    );
    if (!runningAsRoot()) return; // not root: nothing is leased, commands run as the worker's user
    const held = await heldSandboxUser(home, ws.root, testSandboxConfig().uids);
    assert.equal(statSync(ws.tree).uid, held.uid, 'the tree belongs to the uid the lease names');
    assert.equal(statSync(path.join(ws.tree, 'src', 'f7.js')).uid, held.uid);
    assert.equal(linksTo(ws.root).length, 1, 'one uid was leased, not one per attempt');
  });

  it('a preparation scheduled before the one that prepared the workspace is refused and changes nothing', async () => {
    const prepared = await prepare('t2', 2_000);
    const work = path.join(prepared.workspacePath, 'src', 'agent-work.js');
    writeFileSync(work, 'the agent was here\n');
    const uidBefore = statSync(prepared.workspacePath).uid;
    await assert.rejects(prepare('t2', 1_000), superseded);
    assert.ok(existsSync(work), "the agent's work is still there");
    assert.equal(statSync(prepared.workspacePath).uid, uidBefore);
    await prepare('t2', 3_000);
    assert.ok(!existsSync(work), 'a later attempt starts afresh');
    assert.equal(statSync(prepared.workspacePath).uid, uidBefore, 'and keeps the uid');
  });

  it('a release scheduled before a later preparation leaves the new workspace alone', async () => {
    await prepare('t3', 1_000);
    const again = await prepare('t3', 3_000);
    await assert.rejects(release('t3', 2_000), superseded);
    assert.equal(readdirSync(path.join(again.workspacePath, 'src')).length, FILES);
  });

  it('a preparation scheduled before the release does not rebuild the workspace, nor take its uid back', async () => {
    const ws = workspaceDirs(home, 'tenant', 't4');
    await prepare('t4', 1_000);
    if (runningAsRoot()) assert.ok(existsSync(path.join(ws.root, LEASE_FILE)), 'a uid was leased');
    await release('t4', 2_000);
    const released = [ATTEMPT_FILE, 'retained-until'].sort();
    assert.deepEqual(readdirSync(ws.root).sort(), released, 'emptied: no tree, no lease');
    await assert.rejects(prepare('t4', 1_500), superseded);
    assert.deepEqual(readdirSync(ws.root).sort(), released);
    if (runningAsRoot())
      await assert.rejects(heldSandboxUser(home, ws.root, testSandboxConfig().uids), /no sandbox uid is leased/);
  });

  it('an attempt waiting for the lock reads the mark only once it holds it', async () => {
    const ws = workspaceDirs(home, 'tenant', 't5');
    await prepare('t5', 1_000);
    // A later attempt holds the lock and marks the workspace only after the older one began waiting.
    const later = await holdWorkspaceLock(ws.root, () => claimWorkspace(ws.root, 3_000));
    const older = prepare('t5', 2_000);
    await new Promise((resolve) => setTimeout(resolve, 6_000)); // its git call done, it waits for the lock
    later.release();
    await later.done;
    await assert.rejects(older, superseded);
  });
});
