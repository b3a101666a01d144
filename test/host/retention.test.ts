/** Workspace retention: kept for inspection until it expires, then swept; others left alone. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { retainWorkspace, sweepWorkspaces } from '../../host/workspace-retention';
import { tempDir } from '../helpers/temp';

describe('workspace retention', () => {
  it('sweeps only retained workspaces whose time has passed', async () => {
    const home = tempDir('arbiter-retention-');
    const root = (task: string) => path.join(home, 'workspaces', 'acme', task);
    for (const t of ['expired', 'kept', 'live']) mkdirSync(path.join(root(t), 'tree'), { recursive: true });
    const now = new Date('2026-06-01T12:00:00Z');
    await retainWorkspace(root('expired'), new Date('2026-06-01T11:00:00Z'));
    await retainWorkspace(root('kept'), new Date('2026-06-02T12:00:00Z'));
    const removed = await sweepWorkspaces(home, now);
    assert.deepEqual(removed, [root('expired')]);
    assert.equal(existsSync(root('expired')), false);
    assert.equal(existsSync(root('kept')), true);
    assert.equal(existsSync(root('live')), true, 'a workspace of a running task has no marker and is never swept');
  });

  it('does nothing for a home without workspaces', async () => {
    assert.deepEqual(await sweepWorkspaces(tempDir('arbiter-empty-')), []);
  });
});
