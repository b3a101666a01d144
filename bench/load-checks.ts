/**
 * After the load benchmark: every task must have ended COMPLETED exactly once, with one
 * verdict and a gap-free, unduplicated run of events. Reads PostgreSQL as the owner.
 */
import type { Database } from '../db/client';

/** One line saying whether anything was lost or duplicated; throws when something was. */
export async function verifyNothingLost(database: Database, tenantId: string, taskIds: string[]): Promise<string> {
  const { rows } = await database.pool.query<{ completed: string; verdicts: string; bad_events: string }>(
    `SELECT
       (SELECT count(*) FROM tasks WHERE tenant_id = $1 AND id = ANY($2) AND state = 'COMPLETED') AS completed,
       (SELECT count(*) FROM verdicts WHERE tenant_id = $1 AND task_id = ANY($2)) AS verdicts,
       (SELECT count(*) FROM (
          SELECT task_id FROM task_events WHERE tenant_id = $1 AND task_id = ANY($2)
          GROUP BY task_id HAVING count(*) <> max(seq) + 1 OR count(DISTINCT seq) <> count(*)
        ) gaps) AS bad_events`,
    [tenantId, taskIds],
  );
  const completed = Number(rows[0].completed);
  const verdicts = Number(rows[0].verdicts);
  const badEvents = Number(rows[0].bad_events);
  const line =
    `checked ${taskIds.length} tasks: ${completed} COMPLETED, ${verdicts} verdicts, ` +
    `${badEvents} with gaps or duplicate events; lost ${taskIds.length - completed}`;
  if (completed !== taskIds.length || verdicts !== taskIds.length || badEvents) throw new Error(`FAILED ${line}`);
  return `nothing lost: ${line}`;
}
