/**
 * An agent acts for, and is judged by, a task only when routing chose it for that task. A step's
 * input names the agent, and a run of someone's own workflow code (or a `routeTask` completed by
 * hand) could name another tenant's private agent, a paused one, or one past its concurrency
 * limit, or charge a failure to an agent for a task it never ran.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { AgentNotActiveError, RecordMismatchError } from '../domain/errors';
import type { AgentRecord } from '../db/agents';
import type { Db } from '../db/client';
import { routingDecisions } from '../db/schema';

/** A routing decision as the steps after routing read it: its run, task type, and when it was made. */
export interface RoutedDecision {
  runId: string;
  taskType: string;
  /** Milliseconds since it was made, by the database's clock. */
  ageMs: number;
}

/**
 * The decision that routed `agentId` to this tenant's task, `runId`'s own first (else the newest
 * of any run: a run reset past routing works with the agent its predecessor was routed to), or
 * {@link RecordMismatchError} when no worker's `routeTask` recorded one.
 */
export async function routedDecision(
  db: Db,
  task: { tenantId: string; taskId: string; agentId: string },
  runId = '',
): Promise<RoutedDecision> {
  const [routed] = await db
    .select({
      runId: routingDecisions.runId,
      taskType: routingDecisions.taskType,
      ageMs: sql<number>`(extract(epoch from now() - ${routingDecisions.createdAt}) * 1000)::float8`,
    })
    .from(routingDecisions)
    .where(
      and(
        eq(routingDecisions.tenantId, task.tenantId),
        eq(routingDecisions.taskId, task.taskId),
        eq(routingDecisions.agentId, task.agentId),
      ),
    )
    .orderBy(desc(sql`${routingDecisions.runId} = ${runId}`), desc(routingDecisions.createdAt))
    .limit(1);
  if (!routed)
    throw new RecordMismatchError(
      'routing decision',
      `no run of task ${task.taskId} was routed to agent '${task.agentId}'`,
    );
  return routed;
}

/** Refuses `agentId` unless a worker's `routeTask` recorded it for this tenant's task, in any run of it. */
export async function requireRoutedAgent(
  db: Db,
  task: { tenantId: string; taskId: string; agentId: string },
): Promise<void> {
  await routedDecision(db, task);
}

/**
 * Refuses a verdict's agent unless routing chose it for the judged run, or, for a run with no
 * routing of its own (reset past it), for a run of the task: a verdict must not name an agent
 * another run of the task was routed to in place of the one that made the judged change.
 */
export async function requireJudgedRunsAgent(
  db: Db,
  judged: { tenantId: string; taskId: string; runId: string; agentId: string },
): Promise<void> {
  const [own] = await db
    .select({ agentId: routingDecisions.agentId })
    .from(routingDecisions)
    .where(
      and(
        eq(routingDecisions.tenantId, judged.tenantId),
        eq(routingDecisions.taskId, judged.taskId),
        eq(routingDecisions.runId, judged.runId),
      ),
    );
  if (!own) return requireRoutedAgent(db, judged);
  if (own.agentId !== judged.agentId)
    throw new RecordMismatchError(
      'routing decision',
      `run ${judged.runId} of task ${judged.taskId} was routed to agent '${own.agentId}', not '${judged.agentId}'`,
    );
}

/**
 * Refuses an agent an operator has paused or retired since routing chose it: routing reads the
 * status once, and a retry or a run reset to before the agent's step would start it again.
 */
export function requireActiveAgent(agent: Pick<AgentRecord, 'id' | 'status'>): void {
  if (agent.status !== 'active') throw new AgentNotActiveError(agent.id, agent.status);
}
