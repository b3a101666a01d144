/**
 * The workspace lock with real processes: a second holder waits for the first, in this process or
 * another; a holder's crash (SIGKILL) frees the lock with nothing left to clean up; a cancelled wait,
 * and one past its patience, give up without running; other workspaces never wait; the retention
 * sweep passes over a workspace whose lock is held.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { WorkspaceBusyError } from '../../domain/errors';
import { withWorkspaceLock } from '../../host/workspace-lock';
import { retainWorkspace, sweepWorkspaces } from '../../host/workspace-retention';
import { tempDir } from '../helpers/temp';
import { holdWorkspaceLock } from '../helpers/workspace-lock';

const never = new AbortController().signal;
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `p` settles, or to 'pending' after `ms`. */
const settledWithin = <T>(p: Promise<T>, ms: number) => Promise.race([p, tick(ms).then(() => 'pending' as const)]);

describe('workspace lock', function () {
  this.timeout(20_000);
  let home: string;
  let root: string;
  beforeEach(() => {
    home = tempDir('arbiter-wslock-');
    root = path.join(home, 'workspaces', 'tenant', 'task');
    mkdirSync(`${root}-other`, { recursive: true });
    mkdirSync(root, { recursive: true });
  });

  it('a second holder waits until the first is done; another workspace does not', async () => {
    const first = await holdWorkspaceLock(root);
    let secondRan = false;
    const second = withWorkspaceLock(root, never, async () => (secondRan = true));
    const other = withWorkspaceLock(`${root}-other`, never, async () => 'other ran');
    assert.equal(await settledWithin(other, 5000), 'other ran');
    assert.equal(await settledWithin(second, 600), 'pending');
    assert.equal(secondRan, false);
    first.release();
    await Promise.all([first.done, second]);
    assert.equal(secondRan, true);
  });

  it("is held across processes, and a holder's crash frees it", async () => {
    const lib = path.resolve(__dirname, '../../host/workspace-lock.js');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(lib)}).withWorkspaceLock(process.argv[1], new AbortController().signal, () => { console.log('held'); return new Promise(() => setInterval(() => {}, 1000)); })`,
        root,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await once(holder.stdout!, 'data');
    const waiter = withWorkspaceLock(root, never, async () => 'ran');
    assert.equal(await settledWithin(waiter, 800), 'pending', 'waits while the other process holds it');
    holder.kill('SIGKILL');
    assert.equal(await settledWithin(waiter, 5000), 'ran', 'the kernel released the dead holder’s lock');
  });

  it('a cancelled wait throws without running its function', async () => {
    const first = await holdWorkspaceLock(root);
    const cancel = new AbortController();
    let ran = false;
    const waiting = withWorkspaceLock(root, cancel.signal, async () => (ran = true));
    assert.equal(await settledWithin(waiting, 600), 'pending', 'waiting, past its first tries');
    cancel.abort(new Error('activity cancelled'));
    await assert.rejects(waiting, /activity cancelled/);
    first.release();
    await first.done;
    assert.equal(ran, false);
  });

  it('a wait past its patience fails, to be retried, without running', async () => {
    const first = await holdWorkspaceLock(root);
    let ran = false;
    const impatient = withWorkspaceLock(root, never, async () => (ran = true), 500);
    await assert.rejects(impatient, (err: Error & { type?: string }) => err.type === WorkspaceBusyError.type);
    first.release();
    await first.done;
    assert.equal(ran, false);
  });

  it('is one lock for one workspace, whatever path reaches it', async () => {
    const link = path.join(home, 'via-link');
    symlinkSync(root, link);
    const first = await holdWorkspaceLock(root);
    const second = withWorkspaceLock(link, never, async () => 'ran');
    assert.equal(await settledWithin(second, 600), 'pending');
    first.release();
    assert.equal(await second, 'ran');
    await first.done;
  });

  it('the retention sweep passes over a workspace whose lock is held, and removes it once free', async () => {
    const later = new Date(Date.now() + 3_600_000);
    await retainWorkspace(root, new Date(Date.now() - 1000));
    const held = await holdWorkspaceLock(root);
    assert.deepEqual(await sweepWorkspaces(home, later), { removed: [], failed: [] });
    assert.ok(existsSync(root), 'kept while an attempt holds it');
    held.release();
    await held.done;
    assert.deepEqual(await sweepWorkspaces(home, later), { removed: [root], failed: [] });
    assert.ok(!existsSync(root));
  });
});
