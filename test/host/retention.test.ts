/**
 * Workspace retention: kept for inspection until it expires, then swept; others left alone, except
 * an unmarked workspace of a task that ended over the grace period ago, idle as long, whose lock no
 * attempt holds: nothing else would ever remove it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ATTEMPT_FILE } from '../../host/workspace-lock';
import { ORPHAN_GRACE_MS, retainWorkspace, sweepWorkspaces } from '../../host/workspace-retention';
import { tempDir } from '../helpers/temp';
import { holdWorkspaceLock } from '../helpers/workspace-lock';

describe('workspace retention', () => {
  it('sweeps only retained workspaces whose time has passed', async () => {
    const home = tempDir('arbiter-retention-');
    const root = (task: string) => path.join(home, 'workspaces', 'acme', task);
    for (const t of ['expired', 'kept', 'live']) mkdirSync(path.join(root(t), 'tree'), { recursive: true });
    const now = new Date('2026-06-01T12:00:00Z');
    await retainWorkspace(root('expired'), new Date('2026-06-01T11:00:00Z'));
    await retainWorkspace(root('kept'), new Date('2026-06-02T12:00:00Z'));
    const { removed } = await sweepWorkspaces(home, now);
    assert.deepEqual(removed, [root('expired')]);
    assert.equal(existsSync(root('expired')), false);
    assert.equal(existsSync(root('kept')), true);
    assert.equal(existsSync(root('live')), true, 'a workspace of a running task has no marker and is never swept');
  });

  it('sweeps an unmarked workspace of a task that ended, once it and the task have been idle for the grace period', async () => {
    const home = tempDir('arbiter-orphans-');
    const now = new Date('2026-06-01T12:00:00Z');
    const root = (task: string) => path.join(home, 'workspaces', 'acme', task);
    const make = (task: string, changedMsAgo?: number) => {
      mkdirSync(path.join(root(task), 'tree'), { recursive: true });
      if (changedMsAgo !== undefined)
        writeFileSync(path.join(root(task), ATTEMPT_FILE), `${now.getTime() - changedMsAgo}\n`);
    };
    make('orphan', 2 * ORPHAN_GRACE_MS);
    make('from-an-older-release'); // no attempt mark at all
    make('running', 2 * ORPHAN_GRACE_MS);
    make('just-changed', ORPHAN_GRACE_MS / 2);
    make('held', 2 * ORPHAN_GRACE_MS);
    make('retained', 2 * ORPHAN_GRACE_MS);
    make('released-meanwhile', 2 * ORPHAN_GRACE_MS);
    make('reset-meanwhile', 2 * ORPHAN_GRACE_MS);
    await retainWorkspace(root('retained'), new Date('2026-06-02T12:00:00Z'));
    const asked: Array<{ tasks: string[]; graceMs: number }> = [];
    const abandonedTasks = async (tasks: Array<{ tenantId: string; taskId: string }>, graceMs: number) => {
      asked.push({ tasks: tasks.map((t) => `${t.tenantId}/${t.taskId}`).sort(), graceMs });
      await retainWorkspace(root('released-meanwhile'), new Date('2026-06-02T12:00:00Z')); // its release, while we ask
      const reopened = asked.length > 1 ? ['acme/reset-meanwhile'] : []; // a run of it opened after the first answer
      return new Set(
        tasks.map((t) => `${t.tenantId}/${t.taskId}`).filter((k) => k !== 'acme/running' && !reopened.includes(k)),
      );
    };
    const lock = await holdWorkspaceLock(root('held'));
    const { removed } = await sweepWorkspaces(home, now, { abandonedTasks, graceMs: ORPHAN_GRACE_MS });
    lock.release();
    await lock.done;
    assert.deepEqual(removed.sort(), [root('from-an-older-release'), root('orphan')]);
    assert.deepEqual(asked[0], {
      tasks: [
        'acme/from-an-older-release',
        'acme/held',
        'acme/orphan',
        'acme/released-meanwhile',
        'acme/reset-meanwhile',
        'acme/running',
      ],
      graceMs: ORPHAN_GRACE_MS,
    });
    assert.deepEqual(
      asked
        .slice(1)
        .map((a) => a.tasks.join())
        .sort(),
      ['acme/from-an-older-release', 'acme/orphan', 'acme/reset-meanwhile'],
      'each about to be removed is asked about again, under its lock',
    );
    for (const kept of ['running', 'just-changed', 'held', 'retained', 'released-meanwhile', 'reset-meanwhile'])
      assert.ok(existsSync(root(kept)), kept);
  });

  it('reports a workspace it cannot remove and still sweeps the others', async () => {
    const home = tempDir('arbiter-poisoned-');
    const now = new Date('2026-06-01T12:00:00Z');
    const base = path.join(home, 'workspaces', 'acme');
    mkdirSync(base, { recursive: true });
    // A plain file where a workspace directory belongs: emptying it fails, whatever its name's order.
    for (const name of ['a-poisoned', 'z-poisoned']) writeFileSync(path.join(base, name), 'not a directory\n');
    for (const name of ['expired', 'orphan']) mkdirSync(path.join(base, name, 'tree'), { recursive: true });
    await retainWorkspace(path.join(base, 'expired'), new Date('2026-06-01T11:00:00Z'));
    const abandonedTasks = async (tasks: Array<{ tenantId: string; taskId: string }>) =>
      new Set(tasks.map((t) => `${t.tenantId}/${t.taskId}`));
    const { removed, failed } = await sweepWorkspaces(home, now, { abandonedTasks, graceMs: ORPHAN_GRACE_MS });
    assert.deepEqual(removed.sort(), [path.join(base, 'expired'), path.join(base, 'orphan')]);
    assert.deepEqual(failed.map((f) => f.root).sort(), [path.join(base, 'a-poisoned'), path.join(base, 'z-poisoned')]);
    for (const f of failed) assert.match(f.error, /ENOTDIR/);
  });

  it('does nothing for a home without workspaces', async () => {
    assert.deepEqual(await sweepWorkspaces(tempDir('arbiter-empty-')), { removed: [], failed: [] });
  });
});
