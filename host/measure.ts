/**
 * Reading what an agent left in its workspace, as `measureDiff` does: the tree walked, staged as a
 * tree object and measured from objects. Whatever in the tree stops the reading is the agent's
 * doing and is refused as its `PolicyViolationError`: retried as the host's failure, it ended the
 * task FAILED with no FAIL counted against the agent.
 */
import { PolicyViolationError } from '../domain/errors';
import {
  ignoredAmong,
  ignoredPaths,
  measureChange,
  measureDeadline,
  MEASURE_TIMEOUT_MS,
  snapshotTree,
  type FileChange,
} from './diff';
import { GIT_MAX_OUTPUT, GitCommandError, type WorkspaceDirs } from './git';
import { restoreOwnerBits } from './owner-bits';
import { runningAsRoot } from './sandbox/config';
import { nestedRepositories } from './tree-walk';

/** The agent's change as read from its workspace. */
export interface WorkspaceReading {
  /** Folders holding a repository of their own, kept out of the tree. */
  nested: string[];
  treeId: string;
  files: FileChange[];
  /** The binary-safe patch from the base commit to the tree. */
  patch: Buffer;
  /** Paths git ignores, the ignored nested repositories' folders among them (with a trailing `/`). */
  ignored: string[];
  /** The nested repositories git ignores. */
  ignoredNested: Set<string>;
}

/**
 * `err`, or the agent's {@link PolicyViolationError} when it is git stopped for running past its
 * output or time limit on the agent's tree: a change too large to measure, or a tree built to
 * slow git, is the agent's doing. Retried as the host's, it ended FAILED with no FAIL to count.
 */
export function overrunAsViolation(err: unknown): unknown {
  if (!(err instanceof GitCommandError) || !err.overran) return err;
  const reason =
    err.overran === 'output'
      ? `the change makes git print more than ${GIT_MAX_OUTPUT / 2 ** 20} MiB, more than Arbiter measures`
      : `measuring the workspace took git longer than ${MEASURE_TIMEOUT_MS / 60_000} minutes (a tree or ignore rules that slow it)`;
  return new PolicyViolationError({ op: 'measure', path: '.', reason });
}

/**
 * The tree's owner bits given back within the measurement's time. Only the agent's tree can stop
 * it (a path past the kernel's length, more folders than the time allows), so its failure is the
 * agent's violation: thrown as the host's, it was retried until the task failed with nothing counted.
 */
async function ownerBitsRestored(tree: string, deadline: number): Promise<void> {
  await restoreOwnerBits(tree, Math.max(1, deadline - Date.now())).catch((err: Error) => {
    throw new PolicyViolationError({ op: 'measure', path: '.', reason: err.message });
  });
}

/**
 * Reads the change in `ws` from `baseCommit`: the tree (nested repositories left out), its
 * measurement and what git ignores. A worker that is not root first gives the tree's owner back
 * the bits the agent's commands took, so a file or folder made unreadable is measured as made,
 * not failed on (host/owner-bits.ts). The walk refuses more than `maxEntries` entries.
 */
export async function readWorkspace(
  ws: WorkspaceDirs,
  baseCommit: string,
  limits: { maxEntries: number },
): Promise<WorkspaceReading> {
  const deadline = measureDeadline();
  if (!runningAsRoot()) await ownerBitsRestored(ws.tree, deadline);
  const nested = await nestedRepositories(ws.tree, limits);
  try {
    const treeId = await snapshotTree(ws, nested, deadline);
    const { files, patch } = await measureChange(ws.gitDir, baseCommit, treeId, deadline);
    const ignoredNested = await ignoredAmong(ws, nested, deadline);
    const ignored = [...(await ignoredPaths(ws, nested, deadline)), ...[...ignoredNested].map((d) => `${d}/`)];
    return { nested, treeId, files, patch, ignored, ignoredNested };
  } catch (err) {
    throw overrunAsViolation(err);
  }
}
