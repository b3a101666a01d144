/**
 * The steps that claim an agent, judge one, or sign or grant something for a task act only for the
 * run that owns the task's row (or will take it over). A reset of a finished task replays its steps
 * in a new run; its transitions are refused at the first, but a verdict or a waiver decision can
 * come before the new run records any, and a run that never recorded the task at all (an insider's
 * own workflow code) had a PASS signed for a task id nobody submitted (found in review).
 */
import { taskRowOf } from '../db/tasks';
import type { Db } from '../db/client';
import { RecordMismatchError, TaskAlreadyEndedError } from '../domain/errors';
import { isTerminal, type TaskState } from '../domain/lifecycle';
import type { RunIdentity } from '../domain/verdict';

/** Throws {@link TaskAlreadyEndedError} when the task's `row` says it ended under another run than `runId`. */
export function refuseEndedUnderAnotherRun(
  key: { tenantId: string; taskId: string },
  row: { state: TaskState; runId: string } | undefined,
  runId: string,
): void {
  if (row && row.runId !== runId && isTerminal(row.state))
    throw new TaskAlreadyEndedError(`${key.tenantId}/${key.taskId}`, row.state, row.runId);
}

/**
 * Throws {@link RecordMismatchError} unless the task's row is run `run`'s, or, for a run that will
 * take it over at its next transition (a reset waiting in ROUTING, a run reset mid-flight reporting
 * its agent), the row is `run`'s workflow id's, open and not claimed for delivery. With `open`,
 * an ended task is refused too. An insider's own workflow code called `routeTask` for task ids no
 * transition recorded, whose decisions no capacity count saw, `executeAgent` for tasks that had
 * ended, and `recordTaskOutcome` for tasks that never ran or for another run's (found in review).
 * With `repoPath`, a task recorded in another repository is refused too.
 */
export async function requireOwnTask(
  db: Db,
  key: { tenantId: string; taskId: string },
  run: RunIdentity,
  options: { open?: boolean; repoPath?: string } = {},
): Promise<void> {
  const row = await taskRowOf(db, key);
  const task = `${key.tenantId}/${key.taskId}`;
  refuseEndedUnderAnotherRun(key, row, run.runId);
  const successor = row?.workflowId === run.workflowId && row.openToSuccessor;
  if (row?.runId !== run.runId && !successor) {
    const owner = row ? `run ${row.runId}'s` : 'not recorded';
    throw new RecordMismatchError('task', `task ${task} is ${owner}, not run ${run.runId}'s`);
  }
  if (options.open && isTerminal(row.state)) throw new TaskAlreadyEndedError(task, row.state, row.runId);
  if (options.repoPath !== undefined && row.repoPath !== null && row.repoPath !== options.repoPath)
    throw new RecordMismatchError('repository', `task ${task} is recorded in ${row.repoPath}, not ${options.repoPath}`);
}
