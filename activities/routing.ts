/**
 * `routeTask`: picks an active, capable agent with spare capacity and records the decision
 * with every candidate considered. Decisions are made one at a time under a database lock, so
 * concurrent tasks never overfill an agent; a decision already recorded for the task is
 * returned as is, so a retry never routes twice.
 */
import { and, eq, sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { RouteTaskInput, type RoutingDecision } from '../domain/activity-io';
import { canHandleTaskType } from '../domain/agent';
import { AgentsBusyError, NoCapableAgentError } from '../domain/errors';
import { activeTaskCounts, listAgents, type AgentRecord } from '../db/agents';
import type { DbExecutor } from '../db/client';
import { routingDecisions } from '../db/schema';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';

type Candidate = RoutingDecision['candidates'][number] & { busy?: boolean };

/** Arbitrary but fixed: every routing transaction takes the same advisory lock. */
const ROUTING_LOCK_KEY = 7_242_501_313;

/** Scores one agent: ineligible agents score 0, eligible ones prefer spare capacity. */
function assess(agent: AgentRecord, taskType: string, running: number): Candidate {
  if (agent.status !== 'active') return { agentId: agent.id, eligible: false, score: 0, reason: `agent is ${agent.status}` };
  if (!canHandleTaskType(agent.capabilities, taskType))
    return { agentId: agent.id, eligible: false, score: 0, reason: `does not handle task type '${taskType}'` };
  if (running >= agent.maxConcurrency)
    return { agentId: agent.id, eligible: false, busy: true, score: 0, reason: `at capacity (${running}/${agent.maxConcurrency})` };
  const score = 1 - running / agent.maxConcurrency;
  return { agentId: agent.id, eligible: true, score, reason: `capable, ${running}/${agent.maxConcurrency} busy` };
}

/** The hinted agent when it is eligible; busy means wait, anything else is a refusal naming why. */
function pickHinted(hint: string, candidates: Candidate[]): Candidate {
  const hinted = candidates.find((c) => c.agentId === hint);
  if (!hinted) throw new NoCapableAgentError(`requested agent '${hint}' is not registered for this tenant`);
  if (hinted.busy) throw new AgentsBusyError(`requested agent '${hint}' is ${hinted.reason}; waiting`);
  if (!hinted.eligible) throw new NoCapableAgentError(`requested agent '${hint}' cannot take the task: ${hinted.reason}`);
  return hinted;
}

/** Highest score wins; ties go to the lowest id so the choice is reproducible. */
function pickBest(taskType: string, candidates: Candidate[]): Candidate {
  const eligible = candidates.filter((c) => c.eligible).sort((a, b) => b.score - a.score || a.agentId.localeCompare(b.agentId));
  if (eligible.length > 0) return eligible[0];
  const why = candidates.length ? candidates.map((c) => `${c.agentId}: ${c.reason}`).join('; ') : 'no agents are registered';
  if (candidates.some((c) => c.busy)) throw new AgentsBusyError(`every capable agent for task type '${taskType}' is busy (${why}); waiting`);
  throw new NoCapableAgentError(`no capable agent for task type '${taskType}' (${why})`);
}

async function recordedDecision(db: DbExecutor, tenantId: string, taskId: string): Promise<RoutingDecision | undefined> {
  const [row] = await db
    .select()
    .from(routingDecisions)
    .where(and(eq(routingDecisions.tenantId, tenantId), eq(routingDecisions.taskId, taskId)));
  if (!row) return undefined;
  const kind = (await listAgents(db, { tenantId })).find((a) => a.id === row.agentId)?.kind ?? 'unknown';
  return { agentId: row.agentId, agentKind: kind, reason: row.reason, candidates: row.candidates as Candidate[] };
}

/** Builds the `routeTask` activity. */
export function createRoutingActivities({ db }: ActivityDeps) {
  return {
    async routeTask(raw: RouteTaskInput): Promise<RoutingDecision> {
      const input = parseActivityInput(RouteTaskInput, raw);
      const decision = await db.transaction(async (tx) => {
        await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROUTING_LOCK_KEY})`);
        const previous = await recordedDecision(tx, input.tenantId, input.taskId);
        if (previous) return previous;
        const agents = await listAgents(tx, { tenantId: input.tenantId });
        const running = await activeTaskCounts(tx, agents.map((a) => a.id));
        const candidates = agents.map((a) => assess(a, input.taskType, running.get(a.id) ?? 0));
        const chosen = input.agentHint ? pickHinted(input.agentHint, candidates) : pickBest(input.taskType, candidates);
        const reason = input.agentHint ? `requested by submitter; ${chosen.reason}` : `best score; ${chosen.reason}`;
        const recorded = candidates.map(({ busy: _busy, ...c }) => c);
        await tx.insert(routingDecisions).values({ tenantId: input.tenantId, taskId: input.taskId, agentId: chosen.agentId, taskType: input.taskType, reason, candidates: recorded });
        return { agentId: chosen.agentId, agentKind: agents.find((a) => a.id === chosen.agentId)?.kind ?? 'unknown', reason, candidates: recorded };
      });
      log.info('task routed', { agentId: decision.agentId, candidates: decision.candidates.length });
      return decision;
    },
  };
}
