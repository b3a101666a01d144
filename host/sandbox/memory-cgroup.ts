/**
 * One memory cgroup per sandboxed command, so its processes together stay within the command's
 * memory limit. `prlimit --data` bounds each process's private memory alone: shared memory (a
 * memfd, SysV or `MAP_SHARED` pages, files in the sandbox's tmpfs) counts against nothing, and 256
 * processes may each take the whole limit, so one agent could take the host's memory and leave
 * the kernel to kill the worker, PostgreSQL or Temporal. A cgroup charges every page its processes
 * fault in, shared ones too, and the kernel kills inside it when it is full.
 *
 * Used when the worker is root and its own cgroup can hold children with a memory limit (cgroup
 * v1's memory hierarchy, or v2 with the memory controller delegated); otherwise commands keep the
 * per-process limit alone, which `arbiter doctor` reports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** Where a kind of cgroup keeps a command's limit, swap limit, count of kernel kills and highest use. */
interface Layout {
  version: 1 | 2;
  limit: string;
  swap: string;
  events: string;
  peak: string;
}
const V1: Layout = {
  version: 1,
  limit: 'memory.limit_in_bytes',
  swap: 'memory.memsw.limit_in_bytes',
  events: 'memory.oom_control',
  peak: 'memory.max_usage_in_bytes',
};
const V2: Layout = {
  version: 2,
  limit: 'memory.max',
  swap: 'memory.swap.max',
  events: 'memory.events',
  peak: 'memory.peak',
};

/** The folder commands' cgroups are made in, or why there is none. */
type Base = { dir: string; layout: Layout } | { unavailable: string };

/** A command's own cgroup. */
export interface CommandCgroup {
  /** Put before the command's argv: the process joins the cgroup, then runs the rest in its place. */
  enter: string[];
  /**
   * Kills what is left in it and removes it. `joined` is false when nothing ever ran in it (the
   * command could not join: the host's failure, not the command's); `killed` says why the
   * kernel killed in it (its limit), when it did.
   */
  release(): Promise<{ joined: boolean; killed?: string }>;
}

let base: Promise<Base> | undefined;
let made = 0;

/** The worker's own memory cgroup folder, from `/proc/self/cgroup`. */
async function ownCgroup(): Promise<{ dir: string; layout: Layout } | undefined> {
  const lines = (await fs.readFile('/proc/self/cgroup', 'utf8')).split('\n');
  const v1 = lines.map((l) => /^\d+:([^:]*\bmemory\b[^:]*):(.*)$/.exec(l)).find(Boolean);
  if (v1) {
    const dir = path.join('/sys/fs/cgroup', v1[1], v1[2]);
    return existsSync(dir) ? { dir, layout: V1 } : undefined;
  }
  const v2 = lines.map((l) => /^0::(.*)$/.exec(l)).find(Boolean);
  if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers'))
    return { dir: path.join('/sys/fs/cgroup', v2[1]), layout: V2 };
  return undefined;
}

async function findBase(): Promise<Base> {
  if (process.getuid?.() !== 0) return { unavailable: 'the worker is not root, so it cannot make cgroups' };
  const own = await ownCgroup().catch(() => undefined);
  if (!own) return { unavailable: 'no memory cgroup is mounted for the worker' };
  const dir = path.join(own.dir, 'arbiter-commands');
  try {
    await fs.mkdir(dir, { recursive: true });
    if (own.layout.version === 2) await fs.writeFile(path.join(dir, 'cgroup.subtree_control'), '+memory');
    await removeLeftovers(dir);
    const probe = await makeCgroup({ dir, layout: own.layout }, 64 * 1024 * 1024);
    await fs.rmdir(probe);
  } catch (err) {
    const v2 =
      own.layout.version === 2
        ? ' (cgroup v2: its memory controller must be enabled for children, which needs the worker in a leaf cgroup of its own)'
        : '';
    return { unavailable: `the cgroup ${own.dir} takes no memory-limited children${v2}: ${(err as Error).message}` };
  }
  return { dir, layout: own.layout };
}

/** Cgroups a worker that ended abruptly left behind (another live worker's are its own): emptied, then removed. */
async function removeLeftovers(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const owner = /^c-(\d+)-/.exec(entry.name);
    if (entry.isDirectory() && owner && !alive(Number(owner[1]))) await emptyAndRemove(path.join(dir, entry.name));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function makeCgroup(at: { dir: string; layout: Layout }, limitBytes: number): Promise<string> {
  const dir = path.join(at.dir, `c-${process.pid}-${made++}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(dir);
  await fs.writeFile(path.join(dir, at.layout.limit), String(limitBytes));
  // No swap past the limit: v1 counts memory and swap together, v2 swap alone.
  const swap = path.join(dir, at.layout.swap);
  if (existsSync(swap)) await fs.writeFile(swap, at.layout.version === 1 ? String(limitBytes) : '0');
  return dir;
}

/** SIGKILLs every process still in `dir` (one that left its process group too), then removes it. */
async function emptyAndRemove(dir: string): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    const pids = (await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n');
    // 0 stands for a process in a pid namespace this one cannot see: never process.kill(0), this group.
    for (const pid of pids.map(Number).filter((n) => n > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function kernelKills(dir: string, layout: Layout): Promise<number> {
  const text = await fs.readFile(path.join(dir, layout.events), 'utf8').catch(() => '');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Whether anything ever used memory in it; true where the kernel keeps no peak to ask. */
async function everUsed(dir: string, layout: Layout): Promise<boolean> {
  const peak = await fs.readFile(path.join(dir, layout.peak), 'utf8').catch(() => undefined);
  return peak === undefined || Number(peak.trim()) > 0;
}

/** Whether commands run in a memory cgroup of their own here, and if not why. */
export async function memoryCgroupStatus(): Promise<{ ok: boolean; reason: string }> {
  const found = await (base ??= findBase());
  if ('unavailable' in found) return { ok: false, reason: found.unavailable };
  return { ok: true, reason: `cgroup v${found.layout.version} under ${found.dir}` };
}

/** A cgroup holding one command to `limitBytes` (memory and shared memory of all its processes), or undefined where there can be none. */
export async function commandCgroup(limitBytes: number): Promise<CommandCgroup | undefined> {
  const found = await (base ??= findBase());
  if ('unavailable' in found) return undefined;
  const dir = await makeCgroup(found, limitBytes);
  return {
    enter: ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(dir, 'cgroup.procs')],
    async release() {
      const kills = await kernelKills(dir, found.layout);
      const joined = await everUsed(dir, found.layout);
      await emptyAndRemove(dir);
      if (kills === 0) return { joined };
      const limit = `${Math.round(limitBytes / 2 ** 20)} MiB, shared memory included`;
      return { joined, killed: `the command's processes together passed its memory limit (${limit})` };
    },
  };
}
