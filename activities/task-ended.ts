/**
 * The steps that sign or grant something for a run refuse a task that already ended under another
 * run. A reset of a finished task replays its steps in a new run; its transitions are refused at
 * the first, but a verdict or a waiver decision can come before the new run records any.
 */
import { endedUnderAnotherRun } from '../db/tasks';
import type { Db } from '../db/client';
import { TaskAlreadyEndedError } from '../domain/errors';

/** Throws {@link TaskAlreadyEndedError} when the task's row says it ended under another run than `runId`. */
export async function refuseEndedTask(db: Db, key: { tenantId: string; taskId: string }, runId: string): Promise<void> {
  const ended = await endedUnderAnotherRun(db, key, runId);
  if (ended) throw new TaskAlreadyEndedError(`${key.tenantId}/${key.taskId}`, ended.state, ended.runId);
}
