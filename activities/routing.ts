/**
 * `routeTask`: picks an active, capable agent with spare capacity and records the decision
 * with every candidate considered. A decision already recorded for the task is returned as is,
 * so a retry never routes twice.
 */
import { and, eq } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { RouteTaskInput, type RoutingDecision } from '../domain/activity-io';
import { canHandleTaskType } from '../domain/agent';
import { NoCapableAgentError } from '../domain/errors';
import { activeTaskCounts, listAgents, type AgentRecord } from '../db/agents';
import { routingDecisions } from '../db/schema';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';

type Candidate = RoutingDecision['candidates'][number];

/** Scores one agent: ineligible agents score 0, eligible ones prefer spare capacity. */
function assess(agent: AgentRecord, taskType: string, running: number): Candidate {
  if (agent.status !== 'active') return { agentId: agent.id, eligible: false, score: 0, reason: `agent is ${agent.status}` };
  if (!canHandleTaskType(agent.capabilities, taskType))
    return { agentId: agent.id, eligible: false, score: 0, reason: `does not handle task type '${taskType}'` };
  if (running >= agent.maxConcurrency)
    return { agentId: agent.id, eligible: false, score: 0, reason: `at capacity (${running}/${agent.maxConcurrency})` };
  const score = 1 - running / agent.maxConcurrency;
  return { agentId: agent.id, eligible: true, score, reason: `capable, ${running}/${agent.maxConcurrency} busy` };
}

/** The hinted agent when it is eligible, else a refusal naming why. */
function pickHinted(hint: string, candidates: Candidate[]): Candidate {
  const hinted = candidates.find((c) => c.agentId === hint);
  if (!hinted) throw new NoCapableAgentError(`requested agent '${hint}' is not registered for this tenant`);
  if (!hinted.eligible) throw new NoCapableAgentError(`requested agent '${hint}' cannot take the task: ${hinted.reason}`);
  return hinted;
}

/** Highest score wins; ties go to the lowest id so the choice is reproducible. */
function pickBest(taskType: string, candidates: Candidate[]): Candidate {
  const eligible = candidates.filter((c) => c.eligible).sort((a, b) => b.score - a.score || a.agentId.localeCompare(b.agentId));
  if (eligible.length === 0) {
    const why = candidates.length ? candidates.map((c) => `${c.agentId}: ${c.reason}`).join('; ') : 'no agents are registered';
    throw new NoCapableAgentError(`no capable agent for task type '${taskType}' (${why})`);
  }
  return eligible[0];
}

/** Builds the `routeTask` activity. */
export function createRoutingActivities({ db }: ActivityDeps) {
  async function existingDecision(tenantId: string, taskId: string): Promise<RoutingDecision | undefined> {
    const [row] = await db
      .select()
      .from(routingDecisions)
      .where(and(eq(routingDecisions.tenantId, tenantId), eq(routingDecisions.taskId, taskId)));
    if (!row) return undefined;
    const candidates = row.candidates as Candidate[];
    const agents = await listAgents(db, { tenantId });
    const kind = agents.find((a) => a.id === row.agentId)?.kind ?? 'unknown';
    return { agentId: row.agentId, agentKind: kind, reason: row.reason, candidates };
  }

  return {
    async routeTask(raw: RouteTaskInput): Promise<RoutingDecision> {
      const input = parseActivityInput(RouteTaskInput, raw);
      const previous = await existingDecision(input.tenantId, input.taskId);
      if (previous) return previous;
      const agents = await listAgents(db, { tenantId: input.tenantId });
      const running = await activeTaskCounts(db, agents.map((a) => a.id));
      const candidates = agents.map((a) => assess(a, input.taskType, running.get(a.id) ?? 0));
      const chosen = input.agentHint ? pickHinted(input.agentHint, candidates) : pickBest(input.taskType, candidates);
      const reason = input.agentHint ? `requested by submitter; ${chosen.reason}` : `best score; ${chosen.reason}`;
      await db
        .insert(routingDecisions)
        .values({ tenantId: input.tenantId, taskId: input.taskId, agentId: chosen.agentId, taskType: input.taskType, reason, candidates })
        .onConflictDoNothing();
      const decision = await existingDecision(input.tenantId, input.taskId);
      if (!decision) throw new Error('routing decision vanished after insert');
      log.info('task routed', { agentId: decision.agentId, candidates: candidates.length });
      return decision;
    },
  };
}
