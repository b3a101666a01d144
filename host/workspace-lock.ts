/**
 * One preparation of a workspace at a time, and never one that a later attempt has superseded.
 * Temporal retries `prepareWorkspace` when an attempt stops heartbeating, but that attempt may
 * still be alive (a blocked event loop, a stopped process) and go on emptying the root and cloning
 * into it, in this worker or another sharing ARBITER_HOME. Without the lock the retry could hand
 * the task a tree the old attempt is still deleting, or a uid its lease file no longer names;
 * without the attempt mark, an old attempt that takes the lock only after the retry finished would
 * wipe the workspace under the agent already working in it.
 *
 * The lock is a Linux abstract Unix socket named from the workspace root: binding it is exclusive
 * across the processes of the host's network namespace, and the kernel releases it when its process
 * dies, so a crash leaves no stale lock to break. Sandboxed commands run in network namespaces of
 * their own (`--unshare-all`) and can neither see nor take it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkspaceAttemptSupersededError } from '../domain/errors';

/** The file in a workspace root naming when the attempt that prepared it last was scheduled. */
export const ATTEMPT_FILE = 'prepared-by-attempt';
const RETRY_MS = 200;

const lockName = (root: string) =>
  `\0arbiter-workspace-${createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 40)}`;

/** Binds the lock; undefined while another attempt holds it. */
function tryBind(name: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err),
    );
    server.listen(name, () => resolve(server.unref()));
  });
}

/**
 * Runs `fn` holding the preparation lock of the workspace at `root`, after waiting for any other
 * attempt holding it to finish; a cancelled wait (`signal`) throws without running `fn`.
 */
export async function withWorkspaceLock<T>(root: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
  const name = lockName(root);
  let server: Server | undefined;
  for (;;) {
    signal.throwIfAborted();
    if ((server = await tryBind(name))) break;
    await sleep(RETRY_MS);
  }
  try {
    return await fn();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Marks the workspace at `root` as this attempt's, by when the server scheduled it (later for every
 * retry, and for a reset run's new attempt); refuses an attempt scheduled before the one that marked
 * it. Call it holding the lock, before changing anything.
 */
export async function claimWorkspace(root: string, scheduledMs: number): Promise<void> {
  const marked = Number((await fs.readFile(path.join(root, ATTEMPT_FILE), 'utf8').catch(() => '')).trim() || 0);
  if (marked > scheduledMs) throw new WorkspaceAttemptSupersededError(root, scheduledMs, marked);
  await fs.writeFile(path.join(root, ATTEMPT_FILE), `${scheduledMs}\n`);
}
