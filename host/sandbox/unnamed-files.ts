/**
 * Files a task's processes hold open with no name left: deleted while open, or made nameless
 * (`O_TMPFILE`). `du` counts names only, and such a file keeps its disk and its inode until the
 * last process closes it, so a command could fill the host's disk past its workspace quota for
 * as long as it ran. Found through the task's own uid, which no other task and no host process
 * runs as. A file only sent over a unix socket, not yet received, is held by no process: the
 * kernel bounds those per uid by the open-file limit (host/sandbox/bwrap.ts).
 */
import * as fs from 'node:fs/promises';

/** Open files and mappings of the task's processes past which a check stops looking, and the command is stopped. */
export const MAX_HELD = 20_000;

/** What the task's processes hold with no name: bytes (the larger of disk used and length) and files, or too many to look at. */
export type Unnamed = { bytes: number; entries: number } | { tooMany: number };

/** The nameless files `uid`'s processes hold on device `dev` (the workspace's). */
export async function unnamedFiles(uid: number, dev: number): Promise<Unnamed> {
  const held = await heldBy(await processesOf(uid));
  if (held.length > MAX_HELD) return { tooMany: held.length };
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
  return { bytes, entries: counted.size };
}

/**
 * Every file `pids` hold open (a process whose first thread ended lists none of its own: a live
 * thread's table then) and every file they map (one mapped and closed is still held).
 */
async function heldBy(pids: string[]): Promise<string[]> {
  const listed = async (dir: string) =>
    (await fs.readdir(dir).catch(() => [] as string[])).map((name) => `${dir}/${name}`);
  const held: string[] = [];
  for (const pid of pids) {
    let open = await listed(`/proc/${pid}/fd`);
    for (const thread of open.length ? [] : await listed(`/proc/${pid}/task`)) {
      open = await listed(`${thread}/fd`);
      if (open.length) break;
    }
    held.push(...open, ...(await listed(`/proc/${pid}/map_files`)));
  }
  return held;
}

/** The processes running as `uid` now (a `/proc/<pid>` folder is its process's effective uid's). */
async function processesOf(uid: number): Promise<string[]> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const owners = await Promise.all(
    pids.map((pid) =>
      fs.stat(`/proc/${pid}`).then(
        (s) => s.uid,
        () => -1,
      ),
    ),
  );
  return pids.filter((_, i) => owners[i] === uid);
}
