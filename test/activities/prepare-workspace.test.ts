/**
 * Overlapping attempts of `prepareWorkspace` (a stalled attempt that goes on after Temporal retried
 * it), with real git on a real filesystem: they take turns, so the workspace ends whole and owned by
 * the one uid its lease names, and an attempt scheduled before the one that prepared the workspace
 * leaves the workspace, and the agent's work in it, alone.
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
import { DEFAULT_SANDBOX_CONFIG, runningAsRoot } from '../../host/sandbox/config';
import { heldSandboxUser } from '../../host/sandbox/uid-leases';
import { makeRepo } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { SILENT_LOGGER } from '../../workers/logger';

const FILES = 300;

describe('prepareWorkspace attempts that overlap', function () {
  this.timeout(60_000);
  let repo: string;
  let home: string;
  let activities: ReturnType<typeof createActivities>;
  before(() => {
    repo = makeRepo(
      Object.fromEntries(Array.from({ length: FILES }, (_, i) => [`src/f${i}.js`, `exports.n = ${i};\n`])),
    );
  });
  beforeEach(() => {
    home = traversableTempDir('arbiter-prepare-');
    activities = createActivities(testActivityDeps({ home }));
  });

  /** One attempt, scheduled by the server at `scheduledMs`. */
  const attempt = (taskId: string, scheduledMs: number) =>
    new MockActivityEnvironment({ currentAttemptScheduledTimestampMs: scheduledMs }, { logger: SILENT_LOGGER }).run(
      activities.prepareWorkspace,
      {
        tenantId: 'tenant',
        taskId,
        repoPath: repo,
      },
    ) as Promise<PreparedWorkspace>;

  /** Lease links naming `root` (live or not). */
  const linksTo = (root: string) =>
    readdirSync(path.join(home, 'sandbox-uids')).filter(
      (n) => readlinkSync(path.join(home, 'sandbox-uids', n)) === root,
    );

  it('take turns: the workspace ends whole, owned by the one uid its lease names', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => attempt('t1', 1_000)));
    const ws = workspaceDirs(home, 'tenant', 't1');
    assert.deepEqual(new Set(results.map((r) => r.workspacePath)), new Set([ws.tree]));
    assert.equal(readdirSync(path.join(ws.tree, 'src')).length, FILES, 'every file of the base is there');
    const head = execFileSync('git', ['--git-dir', ws.gitDir, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    assert.equal(head, results[0].baseCommit);
    if (!runningAsRoot()) return; // not root: nothing is leased, commands run as the worker's user
    const held = await heldSandboxUser(home, ws.root, DEFAULT_SANDBOX_CONFIG.uids);
    assert.equal(statSync(ws.tree).uid, held.uid, 'the tree belongs to the uid the lease names');
    assert.equal(statSync(path.join(ws.tree, 'src', 'f7.js')).uid, held.uid);
    assert.equal(linksTo(ws.root).length, 1, 'one uid was leased, not one per attempt');
  });

  it('an attempt scheduled before the one that prepared the workspace is refused and changes nothing', async () => {
    const prepared = await attempt('t2', 2_000);
    const work = path.join(prepared.workspacePath, 'src', 'agent-work.js');
    writeFileSync(work, 'the agent was here\n');
    const ws = workspaceDirs(home, 'tenant', 't2');
    const uidBefore = statSync(prepared.workspacePath).uid;
    await assert.rejects(attempt('t2', 1_000), (err: Error & { type?: string }) => {
      assert.equal(err.type, WorkspaceAttemptSupersededError.type);
      return true;
    });
    assert.ok(existsSync(work), "the agent's work is still there");
    assert.equal(statSync(prepared.workspacePath).uid, uidBefore);
    await attempt('t2', 3_000);
    assert.ok(!existsSync(work), 'a later attempt starts afresh');
    if (runningAsRoot()) assert.equal(statSync(ws.tree).uid, uidBefore, 'and keeps the uid');
  });
});
