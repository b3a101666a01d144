/**
 * A tree's owner given back the bits its own commands took. A worker that is not root (the shipped
 * image's `arbiter` user) runs every command as its own user, so a command can take the bits off a
 * file or folder it made (`chmod 000`): the worker could then neither read it to measure the change
 * (the walk's `opendir` and `git add` failed with EACCES, retried as the host's failure until the
 * task failed with nothing counted against the agent) nor empty the folder to remove it. Nothing
 * races the change: a command's processes all end with it (its sandbox has a PID namespace of its
 * own), and no other task's sandbox mounts this tree.
 */
import { runProcess } from './run-process';

/**
 * Folders lacking read, write or search, and files lacking read, each given them, as `find` meets
 * them (a folder before it is read) and on this file system alone; `chmod` runs in each entry's
 * folder, named `./name`, so no path it is given is longer than the kernel takes. Nothing else changes: never a
 * file's execute bit, which git records.
 */
const FIND_EXPRESSION = [
  ...['(', '-type', 'd', '!', '-perm', '-u=rwx', '-execdir', 'chmod', 'u+rwx', '{}', ';', ')'],
  '-o',
  ...['(', '-type', 'f', '!', '-perm', '-u=r', '-execdir', 'chmod', 'u+r', '{}', '+', ')'],
];

/**
 * Gives the owner of `target` read, write and search on every folder under it (itself too) and
 * read on every file, so the worker can measure or remove what its tasks' commands left. Throws
 * when `find` fails, naming why.
 */
export async function restoreOwnerBits(target: string, timeoutMs: number): Promise<void> {
  const run = await runProcess({
    argv: ['find', target, '-xdev', ...FIND_EXPRESSION],
    cwd: '/',
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
    timeoutMs,
    maxOutputBytes: 4096,
  });
  if (run.exitCode !== 0)
    throw new Error(
      `could not give ${target}'s owner its bits back: ${run.outputTail.trim() || run.killedReason || run.spawnError || `find exited ${run.exitCode}`}`,
    );
}
