/**
 * Files a task's processes hold open with no name left: deleted while open, or made nameless
 * (`O_TMPFILE`). `du` counts names only, and such a file keeps its disk and its inode until the
 * last process closes it, so a command could fill the host's disk past its workspace quota for
 * as long as it ran. Found through the task's own uid, which no other task and no host process
 * runs as.
 */
import * as fs from 'node:fs/promises';

/** Bytes (the larger of disk used and length) and count of the nameless files `uid`'s processes hold open on device `dev`. */
export async function unnamedFiles(uid: number, dev: number): Promise<{ bytes: number; entries: number }> {
  const counted = new Set<number>();
  let bytes = 0;
  for (const pid of await processesOf(uid)) {
    const fds = await fs.readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const file = await fs.stat(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
      if (!file?.isFile() || file.nlink !== 0 || file.dev !== dev || counted.has(file.ino)) continue;
      counted.add(file.ino);
      bytes += Math.max(file.size, file.blocks * 512);
    }
  }
  return { bytes, entries: counted.size };
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
