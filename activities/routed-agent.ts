/**
 * An agent acts for, and is judged by, a task only when routing chose it for that task. A step's
 * input names the agent, and a run of someone's own workflow code (or a `routeTask` completed by
 * hand) could name another tenant's private agent, a paused one, or one past its concurrency
 * limit, or charge a failure to an agent other tenants share for a task it never ran.
 */
import { and, eq } from 'drizzle-orm';
import { RecordMismatchError } from '../domain/errors';
import type { Db } from '../db/client';
import { routingDecisions } from '../db/schema';

/**
 * Refuses `agentId` unless a worker's `routeTask` recorded it for this tenant's task. Any run of
 * the task counts: a run reset past routing works with the agent its predecessor was routed to.
 */
export async function requireRoutedAgent(
  db: Db,
  task: { tenantId: string; taskId: string; agentId: string },
): Promise<void> {
  const [routed] = await db
    .select({ runId: routingDecisions.runId })
    .from(routingDecisions)
    .where(
      and(
        eq(routingDecisions.tenantId, task.tenantId),
        eq(routingDecisions.taskId, task.taskId),
        eq(routingDecisions.agentId, task.agentId),
      ),
    )
    .limit(1);
  if (!routed)
    throw new RecordMismatchError(
      'routing decision',
      `no run of task ${task.taskId} was routed to agent '${task.agentId}'`,
    );
}
