/**
 * Task rows read outside a transition: whether a tenant's CLI may see a task, which tasks' rows
 * have been still for a while, and the row a run must own to act for its task.
 */
import { and, eq, gt, inArray, sql } from 'drizzle-orm';
import { TERMINAL_STATES, type TaskState } from '../domain/lifecycle';
import type { Db } from './client';
import { tasks } from './schema';

/** Ids asked about per statement, well under PostgreSQL's limit on parameters. */
const IDS_PER_QUERY = 1000;

/** True when the task's row is visible on `db`: it exists, and the connection's role may read its tenant. */
export async function taskVisible(db: Db, tenantId: string, taskId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, taskId)));
  return row !== undefined;
}

/**
 * The keys (`<tenant>/<task>`) of those of `wanted` whose row has not changed for `graceMs`, by
 * the database's clock, or that have none: whatever state a row was left in (a run terminated by
 * hand leaves it open), and a workspace of a task id no run ever recorded.
 */
export async function quietTasks(
  db: Db,
  wanted: Array<{ tenantId: string; taskId: string }>,
  graceMs: number,
): Promise<Set<string>> {
  const byTenant = new Map<string, string[]>();
  for (const { tenantId, taskId } of wanted) {
    if (!byTenant.has(tenantId)) byTenant.set(tenantId, []);
    byTenant.get(tenantId)!.push(taskId);
  }
  const quiet = new Set(wanted.map((t) => `${t.tenantId}/${t.taskId}`));
  for (const [tenantId, ids] of byTenant)
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const changed = await db
        .select({ id: tasks.id })
        .from(tasks)
        .where(
          and(
            eq(tasks.tenantId, tenantId),
            inArray(tasks.id, ids.slice(i, i + IDS_PER_QUERY)),
            gt(tasks.updatedAt, sql`now() - ${graceMs} * interval '1 millisecond'`),
          ),
        );
      for (const row of changed) quiet.delete(`${tenantId}/${row.id}`);
    }
  return quiet;
}

/**
 * True (SQL, over a task row's columns) while the task may pass to another run of its workflow id:
 * it has not ended and no run has claimed its delivery. The transition statement takes a task over
 * on it, and the steps that act before a run's first transition (`requireOwnTask`) allow on it.
 * Its columns are unqualified: it is read where one relation of those names is in scope (the
 * task row, or the transition statement's locked copy of it).
 */
export const openToSuccessor = sql<boolean>`(state NOT IN (${sql.join(
  TERMINAL_STATES.map((s) => sql`${s}`),
  sql`, `,
)}) AND delivering_run_id IS NULL)`;

/** The task's row: its workflow id, run, state and repository, and whether another run of it may take it over. */
export async function taskRowOf(
  db: Db,
  key: { tenantId: string; taskId: string },
): Promise<
  { state: TaskState; runId: string; workflowId: string; repoPath: string | null; openToSuccessor: boolean } | undefined
> {
  const [row] = await db
    .select({
      state: tasks.state,
      runId: tasks.runId,
      workflowId: tasks.workflowId,
      repoPath: tasks.repoPath,
      openToSuccessor,
    })
    .from(tasks)
    .where(and(eq(tasks.tenantId, key.tenantId), eq(tasks.id, key.taskId)));
  return row;
}
