/**
 * Arbiter's home defaults to `./.arbiter`, so a command run inside a repository reads its keys,
 * keyring and stack description from the checkout: a file there may have been written by whoever
 * could commit to that repository (an agent's delivered change, a pull request), not by the
 * operator. Such a file is no trust root, and no signing key either.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { HomeChosenByOthersError, KeyChosenByOthersError } from '../domain/errors';
import { HARDENED_GIT_CONFIG, hardenedGitEnv } from './git';

/** Arbiter's home, and whether the operator named it (ARBITER_HOME) rather than `./.arbiter` of where it runs. */
export interface ArbiterHome {
  path: string;
  named: boolean;
}

/**
 * How git is asked: a folder a checkout carries may itself look like a bare repository (`HEAD`,
 * `objects/`, `refs/`, and a `config` naming an fsmonitor command), which git would find first, run
 * that command from and answer for with an empty index; so git may use no bare repository it was
 * not named, and runs no configured program.
 */
const ASK_GIT = ['-c', 'safe.bareRepository=explicit', ...HARDENED_GIT_CONFIG];

/**
 * What git lists as tracked at `file` (a file, or everything under a folder), asked from its
 * nearest folder that exists (a home not made yet is asked about too). The path is matched
 * literally and in any case, as a case-insensitive file system opens `.Arbiter` for `.arbiter`.
 */
function lsFiles(file: string, flags: string[]) {
  let from = path.dirname(file);
  while (!existsSync(from) && path.dirname(from) !== from) from = path.dirname(from);
  const name = `:(literal,icase)${path.relative(from, file)}`;
  return spawnSync('git', [...ASK_GIT, '-C', from, 'ls-files', ...flags, '--', name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: hardenedGitEnv(),
  });
}

/**
 * Undefined when git says `file` is in no repository or (exit 1 of `--error-unmatch`) that it
 * tracks nothing there; otherwise what it tracks, or why it could not tell. Anything git cannot
 * answer (a repository another user owns, a path beyond a symlink, git missing) counts as tracked:
 * a check that fails open would trust the checkout's files.
 */
function trackedPaths(file: string, flags: string[] = []): string[] | { unknown: string } | undefined {
  const run = lsFiles(file, flags);
  const said = (run.stderr ?? '').trim();
  if (run.status === 0) return run.stdout.split('\0').filter(Boolean);
  if (run.status === 1 || /not a git repository/i.test(said)) return undefined;
  return { unknown: said.split('\n')[0] || run.error?.message || `exit ${run.status}` };
}

/** The home of a worker's or the CLI's configuration. */
export function arbiterHomeOf(config: { home: string; homeNamed?: boolean }): ArbiterHome {
  return { path: config.home, named: config.homeNamed ?? false };
}

/** Why `file` may have come with a checkout: tracked by git, or git could not say it is not. */
function trackedReason(file: string): string | undefined {
  const tracked = trackedPaths(file, ['--error-unmatch']);
  if (tracked === undefined) return undefined;
  return Array.isArray(tracked)
    ? 'is tracked by git'
    : `may be tracked by git, which could not tell (${tracked.unknown})`;
}

/**
 * A symlink on the way from the home to `file`: a checkout can carry `.arbiter` (or a folder in
 * it) as a link into a folder git ignores (a build output, an installed package), so the files
 * arrive with it untracked. A home the operator named (ARBITER_HOME) is theirs, links and all.
 */
function linkedReason(file: string, home: ArbiterHome): string | undefined {
  if (home.named) return undefined;
  const steps = path.relative(home.path, file).split(path.sep);
  const chain = steps.map((_, i) => path.join(home.path, ...steps.slice(0, i + 1)));
  const link = [home.path, ...chain].find((p) => lstatSync(p, { throwIfNoEntry: false })?.isSymbolicLink());
  return link && `is reached through the symlink ${link} (to ${realpathSync(link)})`;
}

/** Why `file`, under the home, may have come with a checkout: linked in ({@link linkedReason}) or tracked. */
export function checkoutCarriedReason(file: string, home: ArbiterHome): string | undefined {
  return linkedReason(file, home) ?? trackedReason(file);
}

/**
 * Why `file` may be someone else's choice: writable by its group or by anyone, or in a folder that
 * is (who can write the folder can replace the file), unless the folder is sticky (only a file's
 * owner may replace it). Links are followed: a mounted secret is a link to the real file.
 */
export function sharedWritableReason(file: string): string | undefined {
  const octal = (mode: number) => (mode & 0o777).toString(8).padStart(3, '0');
  const own = statSync(file).mode;
  if (own & 0o022) return `is writable by others (mode ${octal(own)})`;
  const folder = path.dirname(realpathSync(file));
  const mode = statSync(folder).mode;
  if (mode & 0o022 && !(mode & 0o1000)) return `is in ${folder}, which others may write (mode ${octal(mode)})`;
  return undefined;
}

/**
 * Refuses a signing key at the default place that came with a checkout: a home inside a repository
 * (`./.arbiter` by default) may hold a key its authors committed (or linked in from a folder git
 * ignores), and hold the private half of, so whatever it signed could be forged.
 */
export function refuseCarriedSigningKey(file: string, home: ArbiterHome): void {
  const reason = existsSync(file) ? checkoutCarriedReason(file, home) : undefined;
  if (reason)
    throw new KeyChosenByOthersError(
      file,
      reason,
      'Arbiter does not sign with a key that came with a checkout; set ARBITER_HOME to a folder of its own, or name a key with ARBITER_SIGNING_KEY_FILE',
    );
}

/**
 * Why the home itself may have come with a checkout: a symlink (unless named), or a folder holding
 * anything git tracks. A worker or a local stack keeps its whole state there, and a carried
 * PostgreSQL data folder runs its configuration's commands, a carried `temporal.db` holds histories
 * the worker would continue, a carried `worker-id` takes another host's queue.
 */
export function carriedHomeReason(home: ArbiterHome): string | undefined {
  const stat = lstatSync(home.path, { throwIfNoEntry: false });
  if (stat?.isSymbolicLink() && !home.named) return `is a symlink (to ${realpathSync(home.path)})`;
  const tracked = trackedPaths(home.path, ['-z']);
  if (tracked === undefined || (Array.isArray(tracked) && tracked.length === 0)) return undefined;
  if (!Array.isArray(tracked)) return `may hold files tracked by git, which could not tell (${tracked.unknown})`;
  const named = tracked.slice(0, 3).join(', ');
  return `holds ${tracked.length} file(s) tracked by git (${named}${tracked.length > 3 ? ', …' : ''})`;
}

/** Refuses to keep state in a home that came with a checkout ({@link carriedHomeReason}). */
export function refuseCarriedHome(home: ArbiterHome): void {
  const reason = carriedHomeReason(home);
  if (reason) throw new HomeChosenByOthersError(home.path, reason);
}
