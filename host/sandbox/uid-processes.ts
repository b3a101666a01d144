/**
 * Which processes run as which uid. A `/proc/<pid>` folder belongs to its process's effective uid
 * while the process is dumpable (proc(5) gives it to root otherwise), so for a lease a folder of
 * root's is asked its `status` too (real, effective, saved and filesystem uids). One that cannot be
 * read for any reason but its process having ended fails the scan: a process missed would make
 * its uid look free (a worker short of file descriptors read 237 of 3,070 statuses).
 */
import * as fs from 'node:fs/promises';
import type { UidRange } from './config';

/** Statuses read at once. */
const STATUS_READS_AT_ONCE = 32;

const ended = (err: unknown) => ['ENOENT', 'ESRCH'].includes((err as NodeJS.ErrnoException).code ?? '');

/** Every live process with its `/proc` folder's owner. */
async function folderOwners(): Promise<Array<{ pid: string; uid: number }>> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const owners = await Promise.all(
    pids.map((pid) =>
      fs.stat(`/proc/${pid}`).then(
        (s) => ({ pid, uid: s.uid }),
        (err: unknown) => {
          if (ended(err)) return undefined;
          throw err;
        },
      ),
    ),
  );
  return owners.filter((o) => o !== undefined);
}

/** The uids process `pid`'s status names (none once it has ended). */
async function statusUids(pid: string): Promise<number[]> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch((err: unknown) => {
    if (ended(err)) return '';
    throw err;
  });
  return (/^Uid:\s+(.+)$/m.exec(status)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
}

/** The processes running as `uid` now, by their folders' owner. */
export async function processesOf(uid: number): Promise<string[]> {
  return (await folderOwners()).filter((o) => o.uid === uid).map((o) => o.pid);
}

/** The uids of `range` some process runs as now. */
export async function uidsInUse(range: UidRange): Promise<Set<number>> {
  const within = (uid: number) => uid >= range.first && uid <= range.last;
  const owners = await folderOwners();
  const inUse = new Set(owners.map((o) => o.uid).filter(within));
  const roots = owners.filter((o) => o.uid === 0).map((o) => o.pid);
  for (let i = 0; i < roots.length; i += STATUS_READS_AT_ONCE)
    for (const uids of await Promise.all(roots.slice(i, i + STATUS_READS_AT_ONCE).map(statusUids)))
      for (const uid of uids.filter(within)) inUse.add(uid);
  return inUse;
}
