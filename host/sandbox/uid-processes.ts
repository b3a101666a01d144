/**
 * Which processes run as which uid, as each one's `/proc/<pid>/status` states it (real, effective,
 * saved and filesystem uids): a process counts for a uid it holds in any of them.
 */
import * as fs from 'node:fs/promises';
import type { UidRange } from './config';

/** The uids of process `pid` (none once it has ended). */
async function uidsOfProcess(pid: string): Promise<number[]> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const line = /^Uid:\s+(.+)$/m.exec(status)?.[1] ?? '';
  return line.split(/\s+/).filter(Boolean).map(Number);
}

/** Every process on the host with its uids. */
async function processUids(): Promise<Array<{ pid: string; uids: number[] }>> {
  const pids = (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name));
  return Promise.all(pids.map(async (pid) => ({ pid, uids: await uidsOfProcess(pid) })));
}

/** The processes running as `uid` now. */
export async function processesOf(uid: number): Promise<string[]> {
  return (await processUids()).filter((p) => p.uids.includes(uid)).map((p) => p.pid);
}

/** The uids of `range` some process runs as now. */
export async function uidsInUse(range: UidRange): Promise<Set<number>> {
  const inUse = new Set<number>();
  for (const { uids } of await processUids())
    for (const uid of uids) if (uid >= range.first && uid <= range.last) inUse.add(uid);
  return inUse;
}
