/**
 * Workspace retention: a completed task's workspace is emptied when the task ends; a failed,
 * rejected or cancelled one is kept for inspection. Either is swept when its retention runs out.
 * So is a workspace nothing will release, once it and its task have been idle for the retention
 * (an hour at least) and no run of the task is open: one a stalled preparation built on this host
 * after its retry built the task's workspace on another, one whose task's release never reached
 * this host, or one of a task id no run recorded (its root has no marker).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { writeFileAtomically } from './atomic-write';
import { removeTree } from './remove-tree';
import { emptyWorkspaceRoot } from './workspace';
import { attemptMark, ifWorkspaceUnlocked } from './workspace-lock';

/** The file in a workspace root saying until when it is kept. */
export const RETENTION_MARKER = 'retained-until';
/**
 * The least time an unmarked workspace is left alone after its last change and after its task's
 * record last changed: the task's own release (it marks or empties the root) comes within seconds
 * of its end.
 */
export const ORPHAN_GRACE_MS = 3_600_000;

/** A workspace's task, by its place under `workspaces/<tenant>/<task>`. */
export interface WorkspaceTask {
  tenantId: string;
  taskId: string;
}

/**
 * Which of `tasks` have been idle at least `graceMs` and have no run open now (their keys,
 * `<tenant>/<task>`); one that cannot be asked about has a run open.
 */
export type AbandonedTasks = (tasks: WorkspaceTask[], graceMs: number) => Promise<Set<string>>;

/** What makes an unmarked workspace an orphan: its task abandoned (asked of `abandonedTasks`), both idle for `graceMs`. */
export interface OrphanRule {
  abandonedTasks: AbandonedTasks;
  graceMs: number;
}

/** Keeps the workspace under `root` (an existing directory) until `until`. */
export async function retainWorkspace(root: string, until: Date): Promise<void> {
  await writeFileAtomically(path.join(root, RETENTION_MARKER), `${until.toISOString()}\n`);
}

/** Until when `root` is kept; undefined when it has no retention marker. */
const retainedUntil = (root: string) =>
  fs.readFile(path.join(root, RETENTION_MARKER), 'utf8').then(
    (text) => Date.parse(text.trim()),
    () => undefined,
  );

/** True when `root` is marked and its retention has passed. */
async function expired(root: string, now: Date): Promise<boolean> {
  const until = await retainedUntil(root);
  return until !== undefined && until <= now.getTime();
}

/** True when `root` is unmarked and no attempt has changed it since `since`. */
async function unmarkedAndIdle(root: string, since: Date): Promise<boolean> {
  return (await retainedUntil(root)) === undefined && (await attemptMark(root)) <= since.getTime();
}

/** Removes `root` if `sweepable` says so while no attempt holds its lock; true when it did. */
async function removeIf(root: string, sweepable: () => Promise<boolean>): Promise<boolean> {
  const removed = await ifWorkspaceUnlocked(root, async () => {
    if (!(await sweepable())) return false;
    await emptyWorkspaceRoot(root, []); // its uid lease last, after the files that uid owns
    await removeTree(root);
    return true;
  });
  return removed === true;
}

async function workspacesUnder(home: string): Promise<Array<WorkspaceTask & { root: string }>> {
  const base = path.join(home, 'workspaces');
  const found: Array<WorkspaceTask & { root: string }> = [];
  for (const tenantId of await fs.readdir(base).catch(() => [] as string[]))
    for (const taskId of await fs.readdir(path.join(base, tenantId)).catch(() => [] as string[]))
      found.push({ tenantId, taskId, root: path.join(base, tenantId, taskId) });
  return found;
}

/** What a sweep did: the roots it removed, and those it could not, each with why. */
export interface SweepOutcome {
  removed: string[];
  failed: Array<{ root: string; error: string }>;
}

/**
 * Deletes every workspace under `home` whose retention has passed and, under `orphans`, every
 * unmarked one of an abandoned task; never one an attempt is changing (a reset run preparing it
 * again). Markers are read before a lock is taken, and again under it. A workspace that cannot be
 * swept is reported and the sweep goes on: one poisoned tree must not keep every other one.
 */
export async function sweepWorkspaces(home: string, now = new Date(), orphans?: OrphanRule): Promise<SweepOutcome> {
  const outcome: SweepOutcome = { removed: [], failed: [] };
  const attempt = async (root: string, fn: () => Promise<boolean>) => {
    try {
      if (await fn()) outcome.removed.push(root);
    } catch (err) {
      outcome.failed.push({ root, error: (err as Error).message });
    }
  };
  const candidates: Array<WorkspaceTask & { root: string }> = [];
  const idleSince = new Date(now.getTime() - (orphans?.graceMs ?? 0));
  for (const ws of await workspacesUnder(home)) {
    const isExpired = () => expired(ws.root, now);
    await attempt(ws.root, async () => {
      if (await isExpired()) return removeIf(ws.root, isExpired);
      if (orphans && (await unmarkedAndIdle(ws.root, idleSince))) candidates.push(ws);
      return false;
    });
  }
  if (!orphans || candidates.length === 0) return outcome;
  const key = (t: WorkspaceTask) => `${t.tenantId}/${t.taskId}`;
  const abandoned = await orphans.abandonedTasks(candidates, orphans.graceMs);
  for (const ws of candidates.filter((c) => abandoned.has(key(c)))) {
    // Asked again under the lock: a run opened meanwhile (a reset) may be working in it.
    const stillOrphaned = async () =>
      (await unmarkedAndIdle(ws.root, idleSince)) && (await orphans.abandonedTasks([ws], orphans.graceMs)).has(key(ws));
    await attempt(ws.root, () => removeIf(ws.root, stillOrphaned));
  }
  return outcome;
}
