/**
 * `routeTask`: among agents that are active, capable, under their concurrency limit and not
 * circuit-broken, picks one by Thompson sampling over the tenant's statistics for the task
 * type, seeded by the task so the same inputs give the same decision. Records the pick, every
 * candidate's score and whether it was exploration. Decisions are made one at a time under a
 * database lock, so concurrent tasks never overfill an agent. Decisions are kept per run: a
 * decision already recorded for this run is returned as is, so a retry never routes twice, and
 * one that does not fit this request is refused rather than reused.
 */
import { and, eq, sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { RouteTaskInput, type RoutingDecision } from '../domain/activity-io';
import { agentRunSeconds, canHandleTaskType } from '../domain/agent';
import { AgentsBusyError, NoCapableAgentError, RecordMismatchError } from '../domain/errors';
import { hashSeed, thompsonChoose, type ArmStats } from '../domain/bandit';
import { activeTaskCounts, getAgent, listAgents, routingCandidates, type RoutingCandidate } from '../db/agents';
import type { DbExecutor } from '../db/client';
import { routingDecisions } from '../db/schema';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { withoutClosedRuns } from './capacity';
import { recordRunEvent } from '../db/provenance';
import { currentRun } from './run-identity';

type Candidate = RoutingDecision['candidates'][number] & { busy?: boolean };

/** Arbitrary but fixed: every routing transaction takes the same advisory lock. */
const ROUTING_LOCK_KEY = 7_242_501_313;

/** Whether one agent may take the task now; busy agents (capacity, open circuit) mean "wait". */
function assess(agent: RoutingCandidate['agent'], taskType: string, running: number, now: Date): Candidate {
  const no = (reason: string, busy = false) => ({ agentId: agent.id, eligible: false, busy, score: 0, reason });
  if (agent.status !== 'active') return no(`agent is ${agent.status}`);
  if (!canHandleTaskType(agent.capabilities, taskType)) return no(`does not handle task type '${taskType}'`);
  if (agent.circuitOpenUntil && agent.circuitOpenUntil > now)
    return no(`circuit open until ${agent.circuitOpenUntil.toISOString()} after infrastructure failures`, true);
  if (running >= agent.maxConcurrency) return no(`at capacity (${running}/${agent.maxConcurrency})`, true);
  return { agentId: agent.id, eligible: true, score: 0, reason: `capable, ${running}/${agent.maxConcurrency} busy` };
}

/** Thompson-samples the eligible candidates on the tenant's statistics `arms`; fills in their scores. */
function sample(
  tenantId: string,
  taskId: string,
  candidates: Candidate[],
  arms: Map<string, ArmStats>,
): { chosen: Candidate; exploration: boolean } {
  const eligible = candidates.filter((c) => c.eligible);
  const draw = thompsonChoose(
    eligible.map((c) => arms.get(c.agentId) as ArmStats),
    hashSeed(`${tenantId}/${taskId}`),
  );
  const byId = new Map(eligible.map((c) => [c.agentId, c]));
  for (const s of draw.scores) {
    const c = byId.get(s.agentId) as Candidate;
    c.score = Number(s.sample.toFixed(6));
    c.reason += `, posterior mean ${s.mean.toFixed(3)}`;
  }
  return { chosen: byId.get(draw.chosen) as Candidate, exploration: draw.exploration };
}

/** The hinted agent when it is eligible; busy means wait, anything else is a refusal naming why. */
function pickHinted(hint: string, candidates: Candidate[]): Candidate {
  const hinted = candidates.find((c) => c.agentId === hint);
  if (!hinted) throw new NoCapableAgentError(`requested agent '${hint}' is not registered for this tenant`);
  if (hinted.busy) throw new AgentsBusyError(`requested agent '${hint}' is ${hinted.reason}; waiting`);
  if (!hinted.eligible)
    throw new NoCapableAgentError(`requested agent '${hint}' cannot take the task: ${hinted.reason}`);
  return hinted;
}

/** Refuses (or defers) when nobody is eligible; otherwise nothing. */
function requireEligible(taskType: string, candidates: Candidate[]): void {
  if (candidates.some((c) => c.eligible)) return;
  const why = candidates.length
    ? candidates.map((c) => `${c.agentId}: ${c.reason}`).join('; ')
    : 'no agents are registered';
  if (candidates.some((c) => c.busy))
    throw new AgentsBusyError(`every capable agent for task type '${taskType}' is busy (${why}); waiting`);
  throw new NoCapableAgentError(`no capable agent for task type '${taskType}' (${why})`);
}

type Input = ReturnType<typeof RouteTaskInput.parse>;

/** This run's recorded decision, if any; one made for another task type or agent request is refused. */
async function recordedDecision(db: DbExecutor, input: Input, runId: string): Promise<RoutingDecision | undefined> {
  const { tenantId, taskId } = input;
  const [row] = await db
    .select()
    .from(routingDecisions)
    .where(
      and(
        eq(routingDecisions.tenantId, tenantId),
        eq(routingDecisions.taskId, taskId),
        eq(routingDecisions.runId, runId),
      ),
    );
  if (!row) return undefined;
  if (row.taskType !== input.taskType)
    throw new RecordMismatchError(
      'routing decision',
      `run ${runId} was routed for task type '${row.taskType}', not '${input.taskType}'`,
    );
  if (input.agentHint && row.agentId !== input.agentHint)
    throw new RecordMismatchError(
      'routing decision',
      `run ${runId} was routed to '${row.agentId}', not the requested '${input.agentHint}'`,
    );
  const agent = (await listAgents(db, { tenantId })).find((a) => a.id === row.agentId);
  return {
    agentId: row.agentId,
    agentKind: agent?.kind ?? 'unknown',
    maxRunSeconds: agent && agentRunSeconds(agent.kind, agent.config),
    reason: row.reason,
    exploration: row.exploration,
    candidates: row.candidates,
  };
}

/** Builds the `routeTask` activity. */
export function createRoutingActivities({ db, runIsOpen }: ActivityDeps) {
  return {
    async routeTask(raw: RouteTaskInput): Promise<RoutingDecision> {
      const input = parseActivityInput(RouteTaskInput, raw);
      const { runId } = currentRun();
      const decision = await db.transaction(async (tx) => {
        await tx.execute(sql`SELECT pg_advisory_xact_lock(${ROUTING_LOCK_KEY})`);
        const previous = await recordedDecision(tx, input, runId);
        if (previous) return previous;
        const found = await routingCandidates(tx, input.tenantId, input.taskType);
        const agents = found.map((f) => f.agent);
        const arms = new Map(
          found.map(({ agent, successes, failures }) => [agent.id, { agentId: agent.id, successes, failures }]),
        );
        const counted = await activeTaskCounts(
          tx,
          agents.map((a) => a.id),
        );
        const running = await withoutClosedRuns(tx, { runIsOpen }, agents, counted);
        const now = new Date();
        const candidates = agents.map((a) => assess(a, input.taskType, running.get(a.id) ?? 0, now));
        let chosen: Candidate;
        let exploration = false;
        if (input.agentHint) chosen = pickHinted(input.agentHint, candidates);
        else {
          requireEligible(input.taskType, candidates);
          ({ chosen, exploration } = sample(input.tenantId, input.taskId, candidates, arms));
        }
        const reason = input.agentHint
          ? `requested by submitter; ${chosen.reason}`
          : `${exploration ? 'exploring' : 'best draw'}; ${chosen.reason}`;
        const recorded = candidates.map(({ busy: _busy, ...c }) => c);
        await tx.insert(routingDecisions).values({
          tenantId: input.tenantId,
          taskId: input.taskId,
          runId,
          agentId: chosen.agentId,
          taskType: input.taskType,
          reason,
          exploration,
          candidates: recorded,
        });
        const agent = await getAgent(tx, chosen.agentId);
        return {
          agentId: chosen.agentId,
          agentKind: agent.kind,
          maxRunSeconds: agentRunSeconds(agent.kind, agent.config),
          reason,
          exploration,
          candidates: recorded,
        };
      });
      await recordRunEvent(db, { ...input, runId }, 'routed', 'task.routed', {
        agentId: decision.agentId,
        exploration: decision.exploration,
        taskType: input.taskType,
        runId,
      });
      log.info('task routed', { agentId: decision.agentId, candidates: decision.candidates.length });
      return decision;
    },
  };
}
