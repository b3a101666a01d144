/**
 * Removing a directory tree a task's programs wrote. Node's `fs.rm` walks by whole path and fails
 * with ENAMETOOLONG once a path passes 4,096 bytes, which an agent reaches with a few hundred
 * nested directories: a workspace it could not remove would keep its sandbox uid leased, fail every
 * retry that resets it, and stop the host's sweep. GNU `rm` walks by descriptor and removes any
 * depth, so it takes over when `fs.rm` fails (through the spawner: the worker never forks).
 */
import * as fs from 'node:fs/promises';
import { restoreOwnerBits } from './owner-bits';
import { runProcess } from './run-process';

const TOOL = { cwd: '/', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, timeoutMs: 10 * 60_000, maxOutputBytes: 4096 };

function rmTree(target: string) {
  return runProcess({ argv: ['rm', '-rf', '--one-file-system', '--', target], ...TOOL });
}

/** Removes `target` and everything under it, whatever its depth; nothing there is not an error. */
export async function removeTree(target: string): Promise<void> {
  try {
    await fs.rm(target, { recursive: true, force: true });
    return;
  } catch {
    // Too deep for a path-based walk, or another failure `rm` reports better.
  }
  let run = await rmTree(target);
  if (run.exitCode !== 0) {
    // A worker not running as root shares its user with the task's commands, which can take the
    // read or write bit off a folder they made: given back, the folder can be emptied. What is
    // still refused after, rm names.
    await restoreOwnerBits(target, TOOL.timeoutMs).catch(() => undefined);
    run = await rmTree(target);
  }
  if (run.exitCode !== 0)
    throw new Error(
      `could not remove ${target}: ${run.outputTail.trim() || run.killedReason || run.spawnError || `rm exited ${run.exitCode}`}`,
    );
}
