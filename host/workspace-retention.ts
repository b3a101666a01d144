/**
 * Workspace retention: a completed task's workspace is deleted when the task ends; a failed,
 * rejected or cancelled one is kept for inspection until its retention runs out, then swept.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

const MARKER = 'retained-until';

/** Keeps the workspace under `root` until `until`. */
export async function retainWorkspace(root: string, until: Date): Promise<void> {
  if (existsSync(root)) await fs.writeFile(path.join(root, MARKER), `${until.toISOString()}\n`);
}

/** Deletes every retained workspace under `home` whose retention has passed; returns what it removed. */
export async function sweepWorkspaces(home: string, now = new Date()): Promise<string[]> {
  const base = path.join(home, 'workspaces');
  const removed: string[] = [];
  for (const tenant of await fs.readdir(base).catch(() => [] as string[])) {
    for (const task of await fs.readdir(path.join(base, tenant)).catch(() => [] as string[])) {
      const root = path.join(base, tenant, task);
      const until = await fs.readFile(path.join(root, MARKER), 'utf8').catch(() => undefined);
      if (until && Date.parse(until.trim()) <= now.getTime()) {
        await fs.rm(root, { recursive: true, force: true });
        removed.push(root);
      }
    }
  }
  return removed;
}
