/**
 * The workspace preparation lock with real processes: a second holder waits for the first, in this
 * process or another; a holder's crash (SIGKILL) frees the lock with nothing left to clean up; a
 * cancelled wait gives up without running; other workspaces never wait.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { withWorkspaceLock } from '../../host/workspace-lock';
import { tempDir } from '../helpers/temp';

const never = new AbortController().signal;
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `p` settles, or to 'pending' after `ms`. */
const settledWithin = <T>(p: Promise<T>, ms: number) => Promise.race([p, tick(ms).then(() => 'pending' as const)]);

describe('workspace preparation lock', function () {
  this.timeout(20_000);
  let root: string;
  beforeEach(() => {
    root = path.join(tempDir('arbiter-wslock-'), 'workspaces', 'tenant', 'task');
  });

  it('a second holder waits until the first is done; another workspace does not', async () => {
    const order: string[] = [];
    let finishFirst!: () => void;
    const first = withWorkspaceLock(root, never, async () => {
      order.push('first in');
      await new Promise<void>((resolve) => (finishFirst = resolve));
      order.push('first out');
    });
    await tick(50);
    const second = withWorkspaceLock(root, never, async () => order.push('second in'));
    const other = withWorkspaceLock(`${root}-other`, never, async () => 'other ran');
    assert.equal(await settledWithin(other, 2000), 'other ran');
    assert.equal(await settledWithin(second, 600), 'pending');
    finishFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second in']);
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
    assert.equal(await settledWithin(waiter, 3000), 'ran', 'the kernel released the dead holder’s lock');
  });

  it('a cancelled wait throws without running its function', async () => {
    let release!: () => void;
    const first = withWorkspaceLock(root, never, () => new Promise<void>((resolve) => (release = resolve)));
    await tick(50);
    const cancel = new AbortController();
    let ran = false;
    const waiting = withWorkspaceLock(root, cancel.signal, async () => (ran = true));
    cancel.abort(new Error('activity cancelled'));
    await assert.rejects(waiting, /activity cancelled/);
    release();
    await first;
    assert.equal(ran, false);
  });
});
