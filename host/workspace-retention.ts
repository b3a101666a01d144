/**
 * Workspace retention: a completed task's workspace is emptied when the task ends; a failed,
 * rejected or cancelled one is kept for inspection. Either is swept when its retention runs out.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ifWorkspaceUnlocked } from './workspace-lock';

const MARKER = 'retained-until';

/** Keeps the workspace under `root` until `until`. */
export async function retainWorkspace(root: string, until: Date): Promise<void> {
  if (existsSync(root)) await fs.writeFile(path.join(root, MARKER), `${until.toISOString()}\n`);
}

/** Removes `root` if its retention has passed; true when it did. */
async function removeIfExpired(root: string, now: Date): Promise<boolean> {
  const until = await fs.readFile(path.join(root, MARKER), 'utf8').catch(() => undefined);
  if (!until || Date.parse(until.trim()) > now.getTime()) return false;
  await fs.rm(root, { recursive: true, force: true });
  return true;
}

/**
 * Deletes every retained workspace under `home` whose retention has passed, except one an attempt
 * is changing (a reset run preparing it again); returns what it removed.
 */
export async function sweepWorkspaces(home: string, now = new Date()): Promise<string[]> {
  const base = path.join(home, 'workspaces');
  const removed: string[] = [];
  for (const tenant of await fs.readdir(base).catch(() => [] as string[])) {
    for (const task of await fs.readdir(path.join(base, tenant)).catch(() => [] as string[])) {
      const root = path.join(base, tenant, task);
      if (await ifWorkspaceUnlocked(root, () => removeIfExpired(root, now))) removed.push(root);
    }
  }
  return removed;
}
