/**
 * A repository's installed dependencies (its policy's setup outputs) as read-only mounts over
 * the workspace a command runs in. The folder under each mount is made a plain empty directory
 * first: a symlink or file the agent left there would otherwise decide where the mount lands.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { SandboxMount } from './bwrap';

/** The marker setup leaves in the dependencies folder; not itself a dependency. */
export const SETUP_MARKER = '.arbiter-setup.json';

/** Where a task's installed dependencies live: beside its tree, never inside it. */
export function dependenciesDirOf(workspacePath: string): string {
  return path.join(path.dirname(workspacePath), 'deps');
}

/** A read-only bind for every installed output, mount points prepared in `workspace`. */
export async function dependencyMounts(depsDir: string | undefined, workspace: string): Promise<SandboxMount[]> {
  if (!depsDir || !existsSync(path.join(depsDir, SETUP_MARKER))) return [];
  const names = (await fs.readdir(depsDir)).filter((n) => n !== SETUP_MARKER);
  const binds: SandboxMount[] = [];
  for (const name of names) {
    const mountPoint = path.join(workspace, name);
    const st = await fs.lstat(mountPoint).catch(() => undefined);
    if (st && !st.isDirectory()) await fs.rm(mountPoint, { recursive: true, force: true });
    await fs.mkdir(mountPoint, { recursive: true });
    binds.push({ kind: 'ro-bind', from: path.join(depsDir, name), to: `/workspace/${name}` });
  }
  return binds;
}
