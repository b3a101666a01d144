/**
 * Changes to a workspace one attempt at a time, and never by an attempt a later one superseded.
 * Temporal retries `prepareWorkspace` (or `releaseWorkspace`) when an attempt stops heartbeating,
 * but that attempt may still be alive (a blocked event loop, a stopped process) and go on emptying
 * the root and cloning into it, in this worker or another sharing ARBITER_HOME. Without the lock the
 * retry could hand the task a tree the old attempt is still deleting, or a uid its lease file no
 * longer names; without the attempt mark, an old attempt that takes the lock only after a later one
 * finished would wipe the workspace under the agent working in it, or rebuild a released one.
 *
 * The lock is a Linux abstract Unix socket named from the workspace root's real path: binding it is
 * exclusive across the processes of one network namespace, and the kernel releases it when its
 * process dies, so a crash leaves no stale lock to break. Sandboxed commands run in network
 * namespaces of their own (`--unshare-all`) and can neither see nor take it. Processes sharing
 * ARBITER_HOME must therefore share a network namespace (README, *Workspaces and delivery*).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkspaceAttemptSupersededError, WorkspaceBusyError } from '../domain/errors';
import { writeFileAtomically } from './atomic-write';

/** The file in a workspace root naming when the attempt that last changed it was scheduled. */
export const ATTEMPT_FILE = 'attempt-mark';
const RETRY_MS = 200;
/**
 * How long an attempt waits for the lock at most before failing to be retried: long enough for
 * another attempt's clone, short enough that a holder stopped for good does not hold the task for
 * its whole start-to-close timeout (a preparation's retry may go to another host).
 */
export const LOCK_PATIENCE_MS = 60_000;

/**
 * The lock's name fills the whole of `sun_path` (108 bytes): libuv releases that pad a shorter
 * abstract name with zeros (Node 20) and those that do not (Node 22) then bind the same name.
 */
async function lockName(root: string): Promise<string> {
  const digest = createHash('sha512')
    .update(await fs.realpath(root))
    .digest('hex');
  return `\0arbiter-workspace-${digest}`.slice(0, 108);
}

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

async function holding<T>(server: Server, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/**
 * Runs `fn` holding the lock of the existing workspace root `root`, after waiting for another
 * attempt holding it; a cancelled wait throws without running `fn`, and one past `patienceMs`
 * throws WorkspaceBusyError.
 */
export async function withWorkspaceLock<T>(
  root: string,
  signal: AbortSignal,
  fn: () => Promise<T>,
  patienceMs = LOCK_PATIENCE_MS,
): Promise<T> {
  const name = await lockName(root);
  const giveUpAt = Date.now() + patienceMs;
  for (;;) {
    signal.throwIfAborted();
    const server = await tryBind(name);
    if (server) return holding(server, fn);
    if (Date.now() >= giveUpAt) throw new WorkspaceBusyError(root, patienceMs);
    await sleep(RETRY_MS);
  }
}

/** Runs `fn` holding the lock of `root`, or returns undefined at once while another holds it (or `root` is gone). */
export async function ifWorkspaceUnlocked<T>(root: string, fn: () => Promise<T>): Promise<T | undefined> {
  const name = await lockName(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  const server = name && (await tryBind(name));
  return server ? holding(server, fn) : undefined;
}

/** When the attempt that last changed the workspace at `root` was scheduled; 0 when none has marked it. */
export async function attemptMark(root: string): Promise<number> {
  const text = await fs.readFile(path.join(root, ATTEMPT_FILE), 'utf8').catch(() => '');
  return Number(text.trim() || 0);
}

/**
 * Marks the workspace at `root` as this attempt's, by when the server scheduled it (later for every
 * retry, and for each later step or reset run); refuses an attempt scheduled before the one that
 * marked it. Call it holding the lock, before changing anything.
 */
export async function claimWorkspace(root: string, scheduledMs: number): Promise<void> {
  const marked = await attemptMark(root);
  if (marked > scheduledMs) throw new WorkspaceAttemptSupersededError(root, scheduledMs, marked);
  await writeFileAtomically(path.join(root, ATTEMPT_FILE), `${scheduledMs}\n`);
}
