/**
 * What the load benchmark reads about another process from /proc: its resident memory (now and
 * its peak), its CPU time, and its spawners (host/spawner.ts, host/native-spawner.ts), found among its children by
 * the helper's script name. Linux only, as the benchmark's sandbox already is.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** A /proc file of `pid`, or undefined once the process is gone. */
function procFile(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** A `kB` field of /proc/PID/status (VmRSS, VmHWM) in bytes; 0 once the process is gone. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = procFile(pid, 'status')?.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return match ? Number(match[1]) * 1024 : 0;
}

/** Resident memory of `pid` now, in bytes. */
export function rssBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** The most resident memory `pid` ever had (the kernel's high-water mark), in bytes. */
export function rssHighWaterBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/** The direct children of `pid` (of all its threads). */
function childrenOf(pid: number): number[] {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return threads.flatMap((tid) => (procFile(pid, `task/${tid}/children`) ?? '').split(' ').filter(Boolean).map(Number));
}

/** CPU seconds of `pid` and every descendant, living or finished (0 once it is gone). */
export function treeCpuSeconds(pid: number): number {
  const { self, children } = cpuSeconds(pid);
  return self + children + childrenOf(pid).reduce((sum, child) => sum + treeCpuSeconds(child), 0);
}

/** The direct children of `pid` whose command line contains `word`. */
export function childrenNamed(pid: number, word: string): number[] {
  return childrenOf(pid).filter((child) => procFile(child, 'cmdline')?.includes(word));
}

/** The spawners `pid` runs now (host/spawner-child.js for task programs, arbiter-spawn for git and du). */
export function spawnersOf(pid: number): number[] {
  return childrenOf(pid).filter((child) => /spawner-child|arbiter-spawn/.test(procFile(child, 'cmdline') ?? ''));
}

/** CPU seconds the whole machine has spent busy since boot, on all cores (/proc/stat: all but idle and iowait). */
export function machineBusySeconds(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .split(/\s+/)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** CPU seconds (user + system) of a process and of its finished children (zeros once it is gone). */
export function cpuSeconds(pid: number): { self: number; children: number } {
  const stat = procFile(pid, 'stat');
  if (!stat) return { self: 0, children: 0 };
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // Fields 14-17 of proc(5) (utime, stime, cutime, cstime), here from index 11, in clock ticks of 1/100 s.
  return { self: (fields[11] + fields[12]) / 100, children: (fields[13] + fields[14]) / 100 };
}
