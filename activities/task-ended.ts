/**
 * The steps that sign or grant something for a run refuse a task that already ended under another
 * run. A reset of a finished task replays its steps in a new run; its transitions are refused at
 * the first, but a verdict or a waiver decision can come before the new run records any. The
 * steps that claim an agent or judge one act only for the run that owns the task's row.
 */
import { endedUnderAnotherRun, taskRowOf } from '../db/tasks';
import type { Db } from '../db/client';
import { RecordMismatchError, TaskAlreadyEndedError } from '../domain/errors';
import { isTerminal } from '../domain/lifecycle';

/** Throws {@link TaskAlreadyEndedError} when the task's row says it ended under another run than `runId`. */
export async function refuseEndedTask(db: Db, key: { tenantId: string; taskId: string }, runId: string): Promise<void> {
  const ended = await endedUnderAnotherRun(db, key, runId);
  if (ended) throw new TaskAlreadyEndedError(`${key.tenantId}/${key.taskId}`, ended.state, ended.runId);
}

/**
 * Throws {@link RecordMismatchError} unless the task's row names run `runId` (and, with
 * `open`, has not ended). An insider's own workflow code called `routeTask` for task ids no
 * transition recorded, whose decisions no capacity count saw, and `recordTaskOutcome` for tasks
 * that never ran, or for another run's task (found in review).
 */
export async function requireOwnTask(
  db: Db,
  key: { tenantId: string; taskId: string },
  runId: string,
  options: { open?: boolean } = {},
): Promise<void> {
  const row = await taskRowOf(db, key);
  const task = `${key.tenantId}/${key.taskId}`;
  if (row?.runId !== runId)
    throw new RecordMismatchError(
      'task',
      `task ${task} is ${row ? `run ${row.runId}'s` : 'not recorded'}, not run ${runId}'s`,
    );
  if (options.open && isTerminal(row.state)) throw new TaskAlreadyEndedError(task, row.state, row.runId);
}
