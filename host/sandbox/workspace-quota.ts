/**
 * The workspace quota a command is held to: bytes (the larger of disk used and what a copy
 * writes) and entries, polled by the command's watchdog while it runs and checked when it exits.
 */
import * as fs from 'node:fs/promises';
import { SpawnedProgramError, spawnViaHelper } from '../native-spawner';
import type { SandboxLimits } from './config';
import { heldFiles, MAX_HELD, MAX_PTYS } from './held-files';

const DU_ENV = { PATH: '/usr/bin:/bin', LC_ALL: 'C' };

/**
 * `du -s -x` of `dir` with `flags`: its total. du exits 1 when a file vanished while it walked (a
 * build churning its files), and still prints the total: an agent churning on purpose must not
 * turn every check into an error the watchdog skips. Only then: it also exits 1, with a total that
 * leaves it out, for a folder it cannot read, which a worker not running as root cannot (a command
 * runs as the worker's own user, and `chmod 0300` hid 50 MiB and 2,000 entries from the quota).
 */
async function du(dir: string, flags: string[]): Promise<number> {
  const out = await spawnViaHelper('du', ['-s', '-x', ...flags, dir], { env: DU_ENV, maxBuffer: 4096 }).catch(
    (err: unknown) => {
      if (err instanceof SpawnedProgramError && err.code === 1 && err.stdout.length > 0 && onlyVanished(err.stderr))
        return err.stdout;
      throw err;
    },
  );
  const total = Number(out.toString('utf8').split('\t')[0]);
  if (!Number.isFinite(total)) throw new Error(`du printed no total for ${dir}`);
  return total;
}

/** Whether du's complaints are all of files that vanished while it walked. */
function onlyVanished(stderr: Buffer): boolean {
  const lines = stderr.toString('utf8').split('\n').filter(Boolean);
  return lines.length > 0 && lines.every((line) => line.endsWith(': No such file or directory'));
}

/**
 * Why the workspace is past its quota (same filesystem only), if it is: its size is the larger of
 * the disk it occupies and what a copy of it writes, every file at its apparent length once per
 * name. Sparse files and hardlinks cost almost no disk, yet the snapshot git reads and each gate's
 * fresh checkout write them out in full; many tiny files cost whole blocks. Its entries are the
 * inodes it uses, of the disk's fixed number; a repository's setup (its owner's command, whose
 * outputs leave the workspace) is not held to that count. Past too many ptys held, it is over
 * a quota of the host's, which every task shares.
 */
export async function pastQuota(
  dir: string,
  limits: SandboxLimits,
  countEntries: boolean,
  heldOpenBy?: number,
): Promise<string | undefined> {
  const [disk, copied, entries, held] = await Promise.all([
    du(dir, ['-B1']),
    du(dir, ['-B1', '--apparent-size', '--count-links']),
    countEntries ? du(dir, ['--inodes']) : 0,
    heldOpenBy === undefined
      ? { bytes: 0, entries: 0, ptys: 0 }
      : fs.stat(dir).then((d) => heldFiles(heldOpenBy, d.dev)),
  ]);
  if ('tooMany' in held) return `its processes hold more than ${MAX_HELD} files open or mapped`;
  if (held.ptys > MAX_PTYS)
    return `its processes hold ${held.ptys} ptys, more than ${MAX_PTYS} (the host's ptys are every task's)`;
  if (Math.max(disk, copied) + held.bytes > limits.workspaceBytes)
    return `workspace grew past ${limits.workspaceBytes} bytes${held.bytes ? `, ${held.bytes} of them in files deleted while held open` : ''}`;
  if (entries + (countEntries ? held.entries : 0) > limits.workspaceEntries)
    return `workspace holds more than ${limits.workspaceEntries} entries${held.entries ? `, ${held.entries} of them files deleted while held open` : ''}`;
  return undefined;
}

/** How a quota check measures: entries counted or not, and whose held files count. */
export interface QuotaOptions {
  countEntries: boolean;
  /** The task's own uid: the nameless files and ptys its processes hold count too ({@link heldFiles}). */
  heldOpenBy?: number;
}

/**
 * Why the workspace is past its quota, or cannot be measured, when no program of its command
 * runs: at a command's exit and before the next starts. A transient failure the watchdog may
 * forgive is past the quota here: an agent whose command made a folder `du` cannot read (a worker
 * not run as root) passed every exit check, the watchdog's first four failures forgiven (found in review).
 */
export async function settledQuotaProblem(
  workspace: string,
  limits: SandboxLimits,
  options: QuotaOptions,
): Promise<string | undefined> {
  try {
    return await pastQuota(workspace, limits, options.countEntries, options.heldOpenBy);
  } catch (err) {
    return `the workspace could not be measured: ${(err as Error).message}`;
  }
}

/** Checks a workspace can fail in a row before its command is stopped: a quota nobody can read holds nothing. */
const MAX_UNMEASURED_CHECKS = 5;

/**
 * The quota check of the commands in `workspace`; a workspace that cannot be measured
 * {@link MAX_UNMEASURED_CHECKS} times in a row is past it.
 */
export function quotaCheck(
  workspace: string,
  limits: SandboxLimits,
  options: QuotaOptions,
): () => Promise<string | undefined> {
  let unmeasured = 0;
  return async () => {
    try {
      const reason = await pastQuota(workspace, limits, options.countEntries, options.heldOpenBy);
      unmeasured = 0;
      return reason;
    } catch (err) {
      if (++unmeasured < MAX_UNMEASURED_CHECKS) return undefined;
      return `the workspace could not be measured ${unmeasured} times in a row: ${(err as Error).message}`;
    }
  };
}
