/**
 * What routing reads on every decision: every agent a tenant may use, with what decides its
 * eligibility, the tenant's statistics for the task type and the tasks it holds, in one query.
 * With 1,000 agents this is most of a decision's work, so it reads only those columns and
 * parses each distinct capabilities value once; decisions started within {@link SHARE_MS} of a
 * read share it, so routing's cost under load grows with time, not with the number of decisions.
 */
import { sql } from 'drizzle-orm';
import { CapabilitiesSchema, type AgentStatus, type Capabilities } from '../domain/agent';
import { activeHoldings, type AgentRecord } from './agents';
import type { DbExecutor } from './client';
import { agentCircuits, agentContextStats, agentStats, agents } from './schema';

/** An agent as routing weighs it: what decides eligibility, the tenant's record for the task type, and its load. */
export interface RoutingCandidate {
  agent: Pick<AgentRecord, 'id' | 'status' | 'capabilities' | 'maxConcurrency'> & {
    /** While in the future the tenant's circuit keeps the agent out of its routing. */
    circuitOpenUntil: Date | null;
  };
  successes: number;
  failures: number;
  /** The tenant's record for the agent in the task's context (zeros without evidence). */
  context: { successes: number; failures: number };
  /** Tasks the agent holds now, as `activeTaskCounts` (db/agents.ts) counts them. */
  running: number;
  /** The agent row's `updated_at` as read: a claim on this read requires the row unchanged (no re-registration, no status change). */
  version: string;
}

/** Parsed capabilities by their stored text: agents mostly share a few, and routing reads them all on every decision. */
const parsedCapabilities = new Map<string, Capabilities>();
const MAX_PARSED_CAPABILITIES = 10_000;

/** `text` (a stored `capabilities` value) parsed, once per distinct value; frozen, as every agent with that value shares it. */
function capabilitiesOf(text: string | null): Capabilities {
  const key = text ?? '{}';
  const known = parsedCapabilities.get(key);
  if (known) return known;
  if (parsedCapabilities.size >= MAX_PARSED_CAPABILITIES) parsedCapabilities.clear();
  const { taskTypes, languages, tags } = CapabilitiesSchema.parse(JSON.parse(key));
  const parsed = Object.freeze({
    taskTypes: Object.freeze(taskTypes),
    languages: Object.freeze(languages),
    tags: Object.freeze(tags),
  }) as Capabilities;
  parsedCapabilities.set(key, parsed);
  return parsed;
}

type CandidateRow = {
  id: string;
  status: AgentStatus;
  capabilities: string | null;
  max_concurrency: number;
  /** As the driver gives it under drizzle: text, as `timestamptz` prints. */
  circuit_open_until: string | null;
  successes: number | null;
  failures: number | null;
  context_successes: number | null;
  context_failures: number | null;
  running: number;
  version: string;
};

/**
 * Every agent `tenantId` may use (its own and shared ones), by id, with the tenant's statistics
 * for `taskType` and for the task's `context` (zeros without evidence), the tenant's circuit for
 * it and the tasks it holds:
 * one round trip, only the columns routing reads, capabilities as text so equal ones are parsed once.
 */
export async function routingCandidates(
  db: DbExecutor,
  tenantId: string,
  taskType: string,
  context = '',
): Promise<RoutingCandidate[]> {
  const { rows } = await db.execute<CandidateRow>(sql`
    SELECT a.id, a.status, a.capabilities::text AS capabilities, a.max_concurrency, ci.circuit_open_until,
      s.successes, s.failures, c.successes AS context_successes, c.failures AS context_failures,
      coalesce(held.n, 0) AS running, a.updated_at::text AS version
    FROM ${agents} a
    LEFT JOIN ${agentStats} s ON s.tenant_id = ${tenantId} AND s.agent_id = a.id AND s.task_type = ${taskType}
    LEFT JOIN ${agentContextStats} c ON c.tenant_id = ${tenantId} AND c.agent_id = a.id AND c.context = ${context}
    LEFT JOIN ${agentCircuits} ci ON ci.tenant_id = ${tenantId} AND ci.agent_id = a.id
    LEFT JOIN (SELECT rd.agent_id, count(*)::int AS n ${activeHoldings} GROUP BY rd.agent_id) held
      ON held.agent_id = a.id
    WHERE a.tenant_id IS NULL OR a.tenant_id = ${tenantId}
    ORDER BY a.id`);
  return rows.map((r) => ({
    agent: {
      id: r.id,
      status: r.status,
      capabilities: capabilitiesOf(r.capabilities),
      maxConcurrency: r.max_concurrency,
      circuitOpenUntil: r.circuit_open_until === null ? null : new Date(r.circuit_open_until),
    },
    successes: r.successes ?? 0,
    failures: r.failures ?? 0,
    context: { successes: r.context_successes ?? 0, failures: r.context_failures ?? 0 },
    running: r.running,
    version: r.version,
  }));
}

/** How long one read of the candidates serves other decisions for the same tenant and task type. */
export const SHARE_MS = 250;
/** Reads shared at once; past this (a submitter may invent task types), decisions read alone. */
const MAX_SHARED_READS = 64;

/** Per database, the read being shared per tenant, task type and context (the promise, so concurrent decisions wait on one query). */
const sharedReads = new WeakMap<DbExecutor, Map<string, Promise<RoutingCandidate[]>>>();

/**
 * {@link routingCandidates}, as read for a decision started at most {@link SHARE_MS} ago, or
 * now. Only a proposal may rest on it: what must be exact (the agent's row unchanged, its
 * circuit and its room) is read again under the agent's lock when the decision is claimed.
 */
export function sharedRoutingCandidates(
  db: DbExecutor,
  tenantId: string,
  taskType: string,
  context = '',
): Promise<RoutingCandidate[]> {
  let reads = sharedReads.get(db);
  if (!reads) sharedReads.set(db, (reads = new Map()));
  const key = JSON.stringify([tenantId, taskType, context]);
  const known = reads.get(key);
  if (known) return known;
  const read = routingCandidates(db, tenantId, taskType, context);
  if (reads.size >= MAX_SHARED_READS) return read;
  reads.set(key, read);
  const forget = () => reads.get(key) === read && reads.delete(key);
  setTimeout(forget, SHARE_MS).unref();
  read.catch(forget);
  return read;
}
