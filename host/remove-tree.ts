/**
 * Removing a directory tree a task's programs wrote. Node's `fs.rm` walks by whole path and fails
 * with ENAMETOOLONG once a path passes 4,096 bytes, which an agent reaches with a few hundred
 * nested directories: a workspace it could not remove would keep its sandbox uid leased, fail every
 * retry that resets it, and stop the host's sweep. GNU `rm` walks by descriptor and removes any
 * depth, so it takes over when `fs.rm` fails (through the spawner: the worker never forks).
 */
import * as fs from 'node:fs/promises';
import { runProcess } from './run-process';

const RM_TIMEOUT_MS = 10 * 60_000;

/** Removes `target` and everything under it, whatever its depth; nothing there is not an error. */
export async function removeTree(target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true });
    return;
  } catch {
    // Too deep for a path-based walk, or another failure `rm` reports better.
  }
  const run = await runProcess({
    argv: ['rm', '-rf', '--one-file-system', '--', target],
    cwd: '/',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs: RM_TIMEOUT_MS,
    maxOutputBytes: 4096,
  });
  if (run.exitCode !== 0)
    throw new Error(
      `could not remove ${target}: ${run.outputTail.trim() || run.killedReason || run.spawnError || `rm exited ${run.exitCode}`}`,
    );
}
