/**
 * Which host folders a command agent's registration may have bound read-only into its sandbox
 * (`toolDirs`: the CLI's installation). The registration is the tenant's, and a bind shows the
 * agent everything under the folder its uid may read: a worker that is not root (the shipped
 * image) runs commands as itself, so `toolDirs: ["<ARBITER_HOME>"]` handed the agent the verdict
 * signing key and every other task's workspace. The worker's operator names the folders agent
 * installations live under (ARBITER_TOOL_DIRS); nothing overlapping the worker's home is bound.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';

/** Where agent CLIs are installed unless the operator says otherwise: Arbiter's own node_modules, and /opt. */
export function defaultToolDirRoots(): string[] {
  return [path.join(projectRoot(), 'node_modules'), '/opt'];
}

/** `dir` resolved through its symlinks, or undefined when it does not exist. */
function resolved(dir: string): string | undefined {
  try {
    return realpathSync(dir);
  } catch {
    return undefined;
  }
}

/** True when `inner` is `outer` or lies under it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Why the worker will not bind `dir` for an agent, or undefined when it may: the folder must exist,
 * lie (symlinks resolved) under one of `roots`, and neither hold nor lie inside `home` (the worker's
 * ARBITER_HOME: keys, leases, every task's workspace).
 */
export function toolDirRefusal(dir: string, o: { roots: readonly string[]; home: string }): string | undefined {
  const real = resolved(dir);
  if (!real) return `tool directory ${dir} is missing on this worker`;
  const shown = real === dir ? dir : `${dir} (${real})`;
  const home = resolved(o.home) ?? path.resolve(o.home);
  if (within(real, home) || within(home, real))
    return `tool directory ${shown} would show the agent the worker's home (ARBITER_HOME: keys and other tasks' workspaces)`;
  const roots = o.roots.map((r) => resolved(r)).filter((r): r is string => r !== undefined);
  if (!roots.some((r) => within(real, r)))
    return `tool directory ${shown} is outside the folders this worker binds for agents (ARBITER_TOOL_DIRS: ${o.roots.join(', ') || 'none'})`;
  return undefined;
}
