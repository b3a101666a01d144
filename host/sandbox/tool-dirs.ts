/**
 * Which host folders a command agent's registration may have bound read-only into its sandbox
 * (`toolDirs`: the CLI's installation). The registration is the tenant's, and a bind shows the
 * agent everything under the folder its uid may read: a worker that is not root (the shipped
 * image) runs commands as itself, so `toolDirs: ["<ARBITER_HOME>"]` handed the agent the verdict
 * signing key and every other task's workspace. The worker's operator names the folders agent
 * installations live under (ARBITER_TOOL_DIRS); nothing overlapping what the worker protects is bound.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';

/** Where agent CLIs are installed unless the operator says otherwise: Arbiter's own node_modules. */
export function defaultToolDirRoots(): string[] {
  return [path.join(projectRoot(), 'node_modules')];
}

/** What a worker checks an agent's tool folders against. */
export interface ToolDirRules {
  /** ARBITER_TOOL_DIRS: a tool folder must lie under one. */
  roots: readonly string[];
  /** Paths no tool folder may hold or lie inside: ARBITER_HOME (keys, leases, workspaces), the signing key. */
  protectedPaths: readonly string[];
}

/** `p` resolved by the kernel through its symlinks, or undefined when it does not exist. */
function resolved(p: string): string | undefined {
  try {
    return realpathSync.native(p);
  } catch {
    return undefined;
  }
}

/** True when `inner` is `outer` or lies under it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * Why the worker will not bind `dir` for an agent, or undefined when it may. The folder must be
 * named by its real path (no symlink, `.` or `..`, so what is bound is what was checked), lie under
 * one of the roots, exist, and neither hold nor lie inside a protected path. The tenant reads the
 * refusal, so it says which rule a folder breaks without saying where the worker's own files are.
 */
export function toolDirRefusal(dir: string, rules: ToolDirRules): string | undefined {
  const refused = `tool directory ${dir} is not one this worker binds for agents: a real folder (no symlinks) under ARBITER_TOOL_DIRS (${rules.roots.join(', ') || 'none'}), clear of the worker's own files`;
  const roots = rules.roots.map((r) => resolved(r)).filter((r): r is string => r !== undefined);
  if (path.resolve(dir) !== dir.replace(/(.)\/+$/, '$1') || !roots.some((r) => within(dir, r))) return refused;
  const real = resolved(dir);
  if (!real) return `tool directory ${dir} is missing on this worker`;
  if (real !== path.resolve(dir)) return refused;
  const guarded = rules.protectedPaths.map((p) => resolved(p) ?? path.resolve(p));
  if (guarded.some((p) => within(real, p) || within(p, real))) return refused;
  return undefined;
}
