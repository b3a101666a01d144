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

/** Open files and mappings of the task's processes past which a check stops looking, and the command is stopped. */
export const MAX_HELD = 20_000;

/** Ptys a command's processes may hold at once; a terminal-driving test suite needs a few. */
export const MAX_PTYS = 64;

/**
 * What the task's processes hold: nameless files' bytes (the larger of disk used and length) and
 * count, and ptys; or too many open files to look at.
 */
export type Held = { bytes: number; entries: number; ptys: number } | { tooMany: number };

/** What `uid`'s processes hold: nameless files on device `dev` (the workspace's), and ptys. */
export async function heldFiles(uid: number, dev: number): Promise<Held> {
  const held = await heldBy(await processesOf(uid));
  if (held.length > MAX_HELD) return { tooMany: held.length };
  const counted = new Set<number>();
  const ptys = new Set<string>();
  let bytes = 0;
  for (const { link, info } of held) {
    const target = await fs.readlink(link).catch(() => '');
    if (target.endsWith('/ptmx')) ptys.add(await ptyOf(info, link));
    // A deleted file's link reads `… (deleted)`: only those are looked at.
    if (!target.endsWith(' (deleted)')) continue;
    const file = await fs.stat(link).catch(() => undefined);
    if (!file?.isFile() || file.nlink !== 0 || file.dev !== dev || counted.has(file.ino)) continue;
    counted.add(file.ino);
    bytes += Math.max(file.size, file.blocks * 512);
  }
  return { bytes, entries: counted.size, ptys: ptys.size };
}

/**
 * The pty a `ptmx` descriptor holds: its devpts mount and index (each command's sandbox has a
 * devpts of its own), so descriptors a fork inherited count once. A kernel that does not say
 * counts each descriptor.
 */
async function ptyOf(info: string | undefined, link: string): Promise<string> {
  const text = info ? await fs.readFile(info, 'utf8').catch(() => '') : '';
  const mount = /^mnt_id:\s*(\d+)$/m.exec(text)?.[1];
  const index = /^tty-index:\s*(\d+)$/m.exec(text)?.[1];
  return mount && index ? `${mount}:${index}` : link;
}

/** A file a process holds: its `/proc` link and, for an open descriptor, its `fdinfo`. */
interface HeldLink {
  link: string;
  info?: string;
}

/**
 * Every file `pids` hold open (a process whose first thread ended lists none of its own: a live
 * thread's table then) and every file they map (one mapped and closed is still held).
 */
async function heldBy(pids: string[]): Promise<HeldLink[]> {
  const listed = async (dir: string) => await fs.readdir(dir).catch(() => [] as string[]);
  const held: HeldLink[] = [];
  for (const pid of pids) {
    let owner = `/proc/${pid}`;
    let open = await listed(`${owner}/fd`);
    for (const thread of open.length ? [] : await listed(`${owner}/task`)) {
      open = await listed(`${owner}/task/${thread}/fd`);
      if (open.length) {
        owner = `${owner}/task/${thread}`;
        break;
      }
    }
    held.push(...open.map((fd) => ({ link: `${owner}/fd/${fd}`, info: `${owner}/fdinfo/${fd}` })));
    held.push(...(await listed(`/proc/${pid}/map_files`)).map((m) => ({ link: `/proc/${pid}/map_files/${m}` })));
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
