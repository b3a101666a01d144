/**
 * One unprivileged uid per task, for as long as the task holds its workspace. RLIMIT_NPROC counts
 * processes per uid, so tasks sharing one could starve each other (a fork bomb at its limit keeps
 * every other task's commands from starting), and they could signal each other's processes and read
 * each other's files.
 *
 * A lease is a symlink `ARBITER_HOME/sandbox-uids/<uid>.<n>` naming its holder (a task's workspace
 * root), and the holder names it back in its `sandbox-uid` file. For each uid the link with the
 * highest n decides, and it is live while its holder names it back. Taking a uid creates the next n
 * with symlink(2), which fails when another process got there first, so worker processes sharing
 * ARBITER_HOME never hold one uid twice; no lock is held, so a crash leaves nothing locked. Removing
 * the holder's lease file (releasing a workspace empties its root, or removes that file alone when the
 * workspace is kept for inspection) or the holder releases its uid;
 * a lease whose holder no longer names it is taken over by the next task that needs a uid once no
 * process runs as that uid any more, and a
 * holder asking again gets its uid back (also after its lease went stale, if no one took it
 * meanwhile; a holder re-created at the same path starts its search at the same uid).
 * When the worker is not root, commands run as the worker's own user and nothing is leased.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { SandboxUidNotHeldError, SandboxUidsExhaustedError } from '../../domain/errors';
import { writeFileAtomically } from '../atomic-write';
import { runningAsRoot, type UidRange } from './config';
import { uidsInUse } from './uid-processes';

/** Who a command runs as. */
export interface SandboxUser {
  uid: number;
  gid: number;
}

/** Who a task's commands and files belong to, by tenant and task. */
export type SandboxUserOf = (task: { tenantId: string; taskId: string }) => Promise<SandboxUser>;

/** The directory of lease links under ARBITER_HOME. */
const LEASES = 'sandbox-uids';
/** The file in a holder that names its lease. */
export const LEASE_FILE = 'sandbox-uid';
/** Holders of one-off leases (operator commands, probes) carry their process id, so a crashed one goes stale. */
const ONE_OFF = /^one-off-(\d+)-/;

interface Lease {
  uid: number;
  n: number;
  name: string;
}

const userOf = (uid: number): SandboxUser => ({ uid, gid: uid });
const processUser = (): SandboxUser => ({ uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });

function parseLease(name: string): Lease | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(name);
  return m ? { uid: Number(m[1]), n: Number(m[2]), name } : undefined;
}

/** Every uid's lease link with the highest n, for the uids in `range`. */
async function newestLeases(dir: string, range: UidRange): Promise<Map<number, Lease>> {
  const newest = new Map<number, Lease>();
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const lease = parseLease(name);
    if (!lease || lease.uid < range.first || lease.uid > range.last) continue;
    if ((newest.get(lease.uid)?.n ?? -1) < lease.n) newest.set(lease.uid, lease);
  }
  return newest;
}

const holderOf = (dir: string, lease: Lease) => fs.readlink(path.join(dir, lease.name)).catch(() => undefined);

async function leaseNamedBy(holder: string): Promise<string | undefined> {
  return (await fs.readFile(path.join(holder, LEASE_FILE), 'utf8').catch(() => undefined))?.trim();
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A lease is live while its holder names it back (and, for a one-off holder, its process runs). */
async function isLive(dir: string, lease: Lease): Promise<boolean> {
  const holder = await holderOf(dir, lease);
  if (!holder || (await leaseNamedBy(holder)) !== lease.name) return false;
  const oneOff = ONE_OFF.exec(path.basename(holder));
  return !oneOff || processAlive(Number(oneOff[1]));
}

/** The lease `holder` holds now: it names it, the link names the holder back, and no later link of the uid exists. */
async function heldBy(dir: string, holder: string, range: UidRange): Promise<Lease | undefined> {
  const named = await leaseNamedBy(holder);
  const lease = named ? parseLease(named) : undefined;
  if (!lease || (await newestLeases(dir, range)).get(lease.uid)?.name !== lease.name) return undefined;
  return (await holderOf(dir, lease)) === holder ? lease : undefined;
}

/**
 * Uids to try: the holder's own earlier ones first, then the range from a point its name picks
 * (spreading lessees; a holder re-created at the same path starts at the same point). Links are
 * read for the holder's own only when it has a lease file: one without (new, or re-created) starts
 * from that point, and reading every link made each new task pay for every uid ever leased.
 */
async function candidates(dir: string, holder: string, range: UidRange, newest: Map<number, Lease>): Promise<number[]> {
  const size = range.last - range.first + 1;
  const start = createHash('sha256').update(holder).digest().readUInt32BE(0) % size;
  const all = Array.from({ length: size }, (_, i) => range.first + ((start + i) % size));
  const own: number[] = [];
  if ((await leaseNamedBy(holder)) !== undefined)
    for (const [uid, lease] of newest) if ((await holderOf(dir, lease)) === holder) own.push(uid);
  return [...own, ...all.filter((uid) => !own.includes(uid))];
}

/** Tries to take `lease` for `holder`; false when another process took this uid first. */
async function take(dir: string, holder: string, lease: Lease): Promise<boolean> {
  // The holder names the lease before the link exists, so the link is live from its first moment.
  await writeFileAtomically(path.join(holder, LEASE_FILE), `${lease.name}\n`);
  try {
    await fs.symlink(holder, path.join(dir, lease.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  // A link made from a listing that missed a later one does not count: only the newest does.
  const uidOnly = { first: lease.uid, last: lease.uid };
  if ((await newestLeases(dir, uidOnly)).get(lease.uid)?.name !== lease.name) return false;
  for (const name of await fs.readdir(dir)) {
    const old = parseLease(name);
    if (old?.uid === lease.uid && old.n < lease.n) await fs.rm(path.join(dir, name), { force: true });
  }
  return true;
}

/**
 * Leases a uid from `range` to `holder` (an existing directory Arbiter owns), or returns the one it
 * holds. One call per holder at a time (a workspace's preparations take turns): calls for one holder
 * at once would each rewrite its lease file.
 */
export async function leaseSandboxUser(home: string, holder: string, range: UidRange): Promise<SandboxUser> {
  if (!runningAsRoot()) return processUser();
  const dir = path.join(home, LEASES);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const held = await heldBy(dir, holder, range);
  if (held) return userOf(held.uid);
  const inUse = await uidsInUse(range);
  for (let round = 0; round < 3; round++) {
    const newest = await newestLeases(dir, range);
    for (const uid of await candidates(dir, holder, range, newest)) {
      const previous = newest.get(uid);
      if (previous && (await isLive(dir, previous))) continue;
      // A uid some process still runs as is not free, whatever its lease says: a lease given up while
      // its holder's command ran (found in review) handed that command's uid to another tenant's task.
      if (inUse.has(uid) && !(previous && (await holderOf(dir, previous)) === holder)) continue;
      const n = (previous?.n ?? -1) + 1;
      if (await take(dir, holder, { uid, n, name: `${uid}.${n}` })) return userOf(uid);
    }
  }
  throw new SandboxUidsExhaustedError(range.first, range.last);
}

/**
 * Gives up the uid `holder` holds, its files left as they are. A workspace kept for inspection held
 * its uid until the retention sweep (a day by default), so a submitter's cancelled or failing tasks
 * could hold every uid of a host and keep every other tenant's tasks waiting. Whoever leases the uid
 * next runs in a sandbox that mounts its own workspace alone, never the kept one.
 */
export async function releaseSandboxUser(holder: string): Promise<void> {
  await fs.rm(path.join(holder, LEASE_FILE), { force: true });
}

/** The uid `holder` holds; SandboxUidNotHeldError when it holds none (it is never given someone else's). */
export async function heldSandboxUser(home: string, holder: string, range: UidRange): Promise<SandboxUser> {
  if (!runningAsRoot()) return processUser();
  const lease = await heldBy(path.join(home, LEASES), holder, range);
  if (!lease) throw new SandboxUidNotHeldError(holder);
  return userOf(lease.uid);
}

/** Runs `fn` with a uid leased for its duration alone (an operator's command, a probe), released after. */
export async function withOneOffSandboxUser<T>(
  home: string,
  range: UidRange,
  fn: (user: SandboxUser) => Promise<T>,
): Promise<T> {
  if (!runningAsRoot()) return fn(processUser());
  const dir = path.join(home, LEASES);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of await fs.readdir(dir)) {
    const oneOff = ONE_OFF.exec(name); // left by a process that died before releasing
    if (oneOff && !processAlive(Number(oneOff[1]))) await fs.rm(path.join(dir, name), { recursive: true, force: true });
  }
  const holder = await fs.mkdtemp(path.join(dir, `one-off-${process.pid}-`));
  try {
    return await fn(await leaseSandboxUser(home, holder, range));
  } finally {
    await fs.rm(holder, { recursive: true, force: true });
  }
}
