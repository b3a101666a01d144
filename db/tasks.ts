/** Task rows as a tenant's CLI reads them (under row-level security): whether a task is there to read at all. */
import { and, eq } from 'drizzle-orm';
import type { Db } from './client';
import { tasks } from './schema';

/** True when the task's row is visible on `db`: it exists, and the connection's role may read its tenant. */
export async function taskVisible(db: Db, tenantId: string, taskId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, taskId)));
  return row !== undefined;
}
