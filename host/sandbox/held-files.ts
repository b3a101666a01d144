/**
 * What a task's processes hold that no workspace walk sees. Files with no name left (deleted
 * while open, or made nameless with `O_TMPFILE`): `du` counts names only, and such a file keeps its
 * disk and its inode until the last process closes it, so a command could fill the host's disk
 * past its workspace quota for as long as it ran. And ptys: every sandbox has its own `/dev/pts`,
 * but the kernel's pty limit is the host's, so a command holding ptys until none was left made
 * every other task's pty fail for as long as it ran. Found through the task's own uid, which no
 * other task and no host process runs as. A file only sent over a unix socket, not yet received,
 * is held by no process: the kernel bounds those per uid by the open-file limit
 * (host/sandbox/bwrap.ts).
 */
import * as fs from 'node:fs/promises';
import { processesOf } from './uid-processes';

/** Open files and mappings of the task's processes past which a check stops looking, and the command is stopped. */
export const MAX_HELD = 20_000;

/** Ptys a command's processes may hold at once; a terminal-driving test suite needs a few. */
export const MAX_PTYS = 64;

/**
 * What the task's processes hold: nameless files' bytes (the larger of disk used and length) and
 * count, and ptys; or too many open files to look at.
 */
export type Held = { bytes: number; entries: number; ptys: number } | { tooMany: true };

/** What `uid`'s processes hold: nameless files on device `dev` (the workspace's), and ptys. */
export async function heldFiles(uid: number, dev: number): Promise<Held> {
  const pids = await processesOf(uid);
  const held = await heldBy(pids);
  if (!held) return { tooMany: true };
  const counted = new Set<number>();
  let bytes = 0;
  for (const link of held) {
    // A deleted file's link reads `… (deleted)`: only those are looked at.
    if (!(await fs.readlink(link).catch(() => '')).endsWith(' (deleted)')) continue;
    const file = await fs.stat(link).catch(() => undefined);
    if (!file?.isFile() || file.nlink !== 0 || file.dev !== dev || counted.has(file.ino)) continue;
    counted.add(file.ino);
    bytes += Math.max(file.size, file.blocks * 512);
  }
  return { bytes, entries: counted.size, ptys: await ptysOf(pids) };
}

/**
 * The ptys allocated in the sandboxes `pids` run in: each command's sandbox has a devpts of its
 * own (and may make no other), listing one node per pty while its master is open, whether a
 * process holds it or it waits in a unix socket's queue, held by none (counted by descriptor, ptys
 * parked there went uncounted: found in review).
 */
async function ptysOf(pids: string[]): Promise<number> {
  // bwrap itself runs as the task's uid outside the sandbox: the host's own ptys are not the task's.
  const seen = new Set<number>([(await fs.stat('/dev/pts').catch(() => ({ dev: -1 }))).dev]);
  let ptys = 0;
  for (const pid of pids) {
    const dir = `/proc/${pid}/root/dev/pts`;
    const devpts = await fs.stat(dir).catch(() => undefined);
    if (!devpts || seen.has(devpts.dev)) continue;
    seen.add(devpts.dev);
    ptys += (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).length;
  }
  return ptys;
}

/**
 * Every file `pids` hold open (a process whose first thread ended lists none of its own: a live
 * thread's table then; the sandbox's filter keeps every thread on its process's table) and every
 * file they map (one mapped and closed is still held); undefined past {@link MAX_HELD}. Reading
 * stops there: 48 processes of 65,000 one-page mappings each took a check 13 s to list, and the
 * workspace grew twenty times past its quota meanwhile (found in review).
 */
async function heldBy(pids: string[]): Promise<string[] | undefined> {
  const held: string[] = [];
  const listed = async (dir: string): Promise<string[]> => {
    const names: string[] = [];
    const entries = await fs.opendir(dir).catch(() => undefined);
    try {
      for await (const entry of entries ?? []) {
        names.push(`${dir}/${entry.name}`);
        if (held.length + names.length > MAX_HELD) break;
      }
    } catch {
      // the process ended while it was read: what was read is all it holds
    }
    return names;
  };
  for (const pid of pids) {
    let open = await listed(`/proc/${pid}/fd`);
    for (const thread of open.length ? [] : await listed(`/proc/${pid}/task`)) {
      open = await listed(`${thread}/fd`);
      if (open.length) break;
    }
    held.push(...open);
    held.push(...(await listed(`/proc/${pid}/map_files`)));
    if (held.length > MAX_HELD) return undefined;
  }
  return held;
}
