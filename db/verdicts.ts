/**
 * Verdict rows: one per run of a task, with the exact signed envelope. Read by the activities
 * that issue and deliver verdicts and by `arbiter verdict show|verify`.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from './client';
import { tasks, verdicts } from './schema';

/** The verdict stored for one run of a task, if any: what delivery checks and a retry finds. */
export async function storedVerdict(
  db: Db,
  tenantId: string,
  taskId: string,
  runId: string,
): Promise<typeof verdicts.$inferSelect | undefined> {
  const [row] = await db
    .select()
    .from(verdicts)
    .where(and(eq(verdicts.tenantId, tenantId), eq(verdicts.taskId, taskId), eq(verdicts.runId, runId)));
  return row;
}

/** The verdict of the run that owns the task (a run that took a task over replaced any earlier one). */
export async function currentVerdict(
  db: Db,
  tenantId: string,
  taskId: string,
): Promise<typeof verdicts.$inferSelect | undefined> {
  const [task] = await db
    .select({ runId: tasks.runId })
    .from(tasks)
    .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, taskId)));
  return task ? storedVerdict(db, tenantId, taskId, task.runId) : undefined;
}
