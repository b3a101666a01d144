/**
 * Agent registry queries, shared by the CLI (`arbiter agents …`) and the routing activity so
 * both see agents the same way.
 */
import { zodProblems } from '../domain/zod-issues';
import { UnknownAgentError } from '../domain/errors';
import { and, asc, eq, isNull, notInArray, or, sql, type Placeholder, type SQL } from 'drizzle-orm';
import {
  AGENT_KINDS,
  AgentRegistrationSchema,
  CapabilitiesSchema,
  agentConfigProblems,
  type AgentRegistration,
  type AgentStatus,
  type Capabilities,
} from '../domain/agent';
import { TERMINAL_STATES } from '../domain/lifecycle';
import type { Db, DbExecutor } from './client';
import { agents, routingDecisions, tasks } from './schema';

/** The end states as SQL literals, exactly as migration 0014's partial index `tasks_active_idx` names them. */
const ACTIVE_PREDICATE_STATES = TERMINAL_STATES.map((state) => `'${state}'`).join(', ');

/**
 * The rows `rd` of the routing decisions whose tasks still run: routed (a decision exists for the
 * task's current run) and not yet terminal. Driven from the tasks still running (the partial index
 * tasks_active_idx, whose predicate this literal list must match), not from every decision ever made.
 * Follows `SELECT …`; shared by every count of what agents hold.
 */
export const activeHoldings = sql`
    FROM ${tasks} t
    JOIN ${routingDecisions} rd ON rd.tenant_id = t.tenant_id AND rd.task_id = t.id AND rd.run_id = t.run_id
    WHERE t.state NOT IN (${sql.raw(ACTIVE_PREDICATE_STATES)})`;

/** An agent as stored. */
export interface AgentRecord {
  id: string;
  tenantId: string | null;
  name: string;
  kind: string;
  config: Record<string, unknown>;
  capabilities: Capabilities;
  maxConcurrency: number;
  status: AgentStatus;
}

/** Refused registration, listing every problem. */
export class InvalidAgentError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid agent: ${problems.join('; ')}`);
    this.name = 'InvalidAgentError';
  }
}

export { UnknownAgentError };

function toRecord(row: typeof agents.$inferSelect): AgentRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    kind: row.kind,
    config: row.config,
    capabilities: CapabilitiesSchema.parse(row.capabilities ?? {}),
    maxConcurrency: row.maxConcurrency,
    status: row.status,
  };
}

/** Validates and inserts (or replaces) an agent; re-adding the same id updates it and reactivates it. */
export async function upsertAgent(db: Db, registration: AgentRegistration): Promise<AgentRecord> {
  const parsed = AgentRegistrationSchema.safeParse(registration);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error);
    // Still check the config when the kind is known, so every problem is listed at once.
    if (AGENT_KINDS.includes(registration?.kind))
      problems.push(...agentConfigProblems(registration.kind, registration.config ?? {}));
    throw new InvalidAgentError(problems);
  }
  const a = parsed.data;
  const problems = agentConfigProblems(a.kind, a.config);
  if (problems.length) throw new InvalidAgentError(problems);
  const values = {
    id: a.id,
    tenantId: a.tenantId ?? null,
    name: a.name ?? a.id,
    kind: a.kind,
    config: a.config,
    capabilities: a.capabilities,
    maxConcurrency: a.maxConcurrency,
    status: 'active' as const,
  };
  const [row] = await db
    .insert(agents)
    .values(values)
    .onConflictDoUpdate({
      target: agents.id,
      set: { ...values, updatedAt: sql`now()` },
      // Re-adding updates an agent only within the same tenant scope; ids are global.
      setWhere: sql`${agents.tenantId} IS NOT DISTINCT FROM ${values.tenantId}`,
    })
    .returning();
  if (!row) throw new InvalidAgentError([`id: agent '${a.id}' already exists for another tenant`]);
  return toRecord(row);
}

/** Agents visible to `tenantId` (shared ones included), or all of them. */
export async function listAgents(
  db: DbExecutor,
  filter: { tenantId?: string; status?: AgentStatus } = {},
): Promise<AgentRecord[]> {
  const conditions = [];
  if (filter.tenantId) conditions.push(or(isNull(agents.tenantId), eq(agents.tenantId, filter.tenantId)));
  if (filter.status) conditions.push(eq(agents.status, filter.status));
  const rows = await db
    .select()
    .from(agents)
    .where(and(...conditions))
    .orderBy(asc(agents.id));
  return rows.map(toRecord);
}

/** One agent or {@link UnknownAgentError}. */
export async function getAgent(db: DbExecutor, id: string): Promise<AgentRecord> {
  const [row] = await db.select().from(agents).where(eq(agents.id, id));
  if (!row) throw new UnknownAgentError(id);
  return toRecord(row);
}

/** Pause, resume (active) or retire an agent. */
export async function setAgentStatus(db: Db, id: string, status: AgentStatus): Promise<AgentRecord> {
  const [row] = await db
    .update(agents)
    .set({ status, updatedAt: sql`now()` })
    .where(eq(agents.id, id))
    .returning();
  if (!row) throw new UnknownAgentError(id);
  return toRecord(row);
}

/** A task row joined to the routing decision of the run that last wrote it. */
const routedRun = and(
  eq(tasks.tenantId, routingDecisions.tenantId),
  eq(tasks.id, routingDecisions.taskId),
  eq(tasks.runId, routingDecisions.runId),
);

/**
 * Tasks currently held by each agent (of `agentIds`, or every agent holding any). Counted from
 * routing decisions, which are written in the same transaction as a new decision, so tasks
 * routed at the same moment see each other.
 */
export async function activeTaskCounts(db: DbExecutor, agentIds?: string[]): Promise<Map<string, number>> {
  if (agentIds?.length === 0) return new Map();
  const rows = await db.execute<{ agent_id: string; n: number }>(
    sql`SELECT rd.agent_id, count(*)::int AS n ${activeHoldings} GROUP BY rd.agent_id`,
  );
  const wanted = agentIds && new Set(agentIds);
  return new Map(rows.rows.filter((r) => !wanted || wanted.has(r.agent_id)).map((r) => [r.agent_id, r.n]));
}

/** The count of {@link activeTaskCounts} for `agentId`, as SQL: what routing rereads under that agent's lock. */
export function activeTaskCountOf(agentId: string | Placeholder): SQL {
  return sql`SELECT count(*)::int AS n ${activeHoldings} AND rd.agent_id = ${agentId}`;
}

/** A run that holds a unit of an agent's capacity, as {@link activeTaskCounts} counts it. */
export interface CapacityHolder {
  tenantId: string;
  taskId: string;
  workflowId: string;
  runId: string;
}

/** The runs {@link activeTaskCounts} counts for `agentId`. */
export async function capacityHolders(db: DbExecutor, agentId: string): Promise<CapacityHolder[]> {
  return db
    .select({ tenantId: tasks.tenantId, taskId: tasks.id, workflowId: tasks.workflowId, runId: tasks.runId })
    .from(routingDecisions)
    .innerJoin(tasks, routedRun)
    .where(and(eq(routingDecisions.agentId, agentId), notInArray(tasks.state, [...TERMINAL_STATES])));
}
