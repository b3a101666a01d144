/**
 * `routeTask`: among agents that are active, capable, under their concurrency limit and not
 * circuit-broken, picks one: an agent never tried on the task type first, else by Thompson
 * sampling over the tenant's statistics for the task's context backed by its type
 * (domain/bandit.ts), seeded by the task so the same inputs give the same decision. Records the pick, every
 * candidate's score and whether it was exploration. The pick is weighed without locks, on the
 * registry as read for any decision of the last moment (db/routing-candidates.ts), and claimed
 * under the chosen agent's lock, which checks that agent again (activities/routing-claim.ts), so
 * concurrent tasks never overfill an agent and a stale read never routes to an agent that may
 * not take the task. Decisions are kept per run: a decision already recorded for this run is
 * returned as is, so a retry never routes twice, and one that does not fit this request is
 * refused rather than reused.
 */
import { log } from '@temporalio/activity';
import { RouteTaskInput, type RoutingDecision } from '../domain/activity-io';
import { canHandleTaskType } from '../domain/agent';
import { AgentsBusyError, NoCapableAgentError } from '../domain/errors';
import { contextualChoose, hashSeed, type ContextArm } from '../domain/bandit';
import { contextKey } from '../domain/routing-context';
import { routingCandidates, sharedRoutingCandidates, type RoutingCandidate } from '../db/routing-candidates';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { withoutClosedRuns } from './capacity';
import { appendProvenance } from '../db/provenance';
import { currentRun } from './run-identity';
import {
  claimDecision,
  reasonOf,
  recordedDecision,
  routedEvent,
  type AssessedCandidate as Candidate,
  type Weighed,
} from './routing-claim';

/** Whether one agent may take the task now; busy agents (capacity, open circuit) mean "wait". */
export function assess(agent: RoutingCandidate['agent'], taskType: string, running: number, now: Date): Candidate {
  const no = (reason: string, busy = false) => ({ agentId: agent.id, eligible: false, busy, score: 0, reason });
  if (agent.status !== 'active') return no(`agent is ${agent.status}`);
  if (!canHandleTaskType(agent.capabilities, taskType)) return no(`does not handle task type '${taskType}'`);
  if (agent.circuitOpenUntil && agent.circuitOpenUntil > now)
    return no(`circuit open until ${agent.circuitOpenUntil.toISOString()} after infrastructure failures`, true);
  if (running >= agent.maxConcurrency) return no(`at capacity (${running}/${agent.maxConcurrency})`, true);
  return { agentId: agent.id, eligible: true, score: 0, reason: `capable, ${running}/${agent.maxConcurrency} busy` };
}

/** Draws among the eligible candidates on the tenant's statistics `arms` ({@link contextualChoose}); fills in their scores. */
function sample(
  tenantId: string,
  taskId: string,
  candidates: Candidate[],
  arms: Map<string, ContextArm>,
): { chosen: Candidate; exploration: boolean } {
  const eligible = candidates.filter((c) => c.eligible);
  const draw = contextualChoose(
    eligible.map((c) => arms.get(c.agentId) as ContextArm),
    hashSeed(`${tenantId}/${taskId}`),
  );
  const byId = new Map(eligible.map((c) => [c.agentId, c]));
  for (const s of draw.scores) {
    const c = byId.get(s.agentId) as Candidate;
    c.score = s.sample;
    c.mean = s.mean;
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

/**
 * Assesses `found` (every agent the tenant may use, read without any lock) and picks one: the
 * pick is only a proposal until {@link claimDecision} confirms, under the chosen agent's lock, that it still has room.
 */
async function weigh(
  { db, runIsOpen }: ActivityDeps,
  input: RouteTaskInput,
  found: RoutingCandidate[],
): Promise<Weighed> {
  const agents = found.map((f) => f.agent);
  const counted = new Map(found.map((f) => [f.agent.id, f.running]));
  const running = await withoutClosedRuns(db, { runIsOpen }, agents, counted);
  const arms = new Map(
    found.map(({ agent, successes, failures, context }) => [
      agent.id,
      { agentId: agent.id, type: { successes, failures }, context, running: running.get(agent.id) ?? 0 },
    ]),
  );
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
    ? `requested by submitter; ${reasonOf(chosen)}`
    : `${exploration ? 'exploring' : 'best draw'}; ${reasonOf(chosen)}`;
  const { version } = found.find((f) => f.agent.id === chosen.agentId) as RoutingCandidate;
  return { chosen, exploration, reason, candidates, version };
}

/** Proposals that lost their agent to concurrent decisions before the task waits (AgentsBusyError) for a retry. */
const CLAIM_ATTEMPTS = 5;

/**
 * The first proposal, on candidates read a moment ago for another decision. A refusal on them (but
 * "busy", on which the task waits and asks again anyway) is undefined: decide again on a fresh read.
 */
async function proposeOnSharedRead(
  deps: ActivityDeps,
  input: RouteTaskInput,
  context: string,
): Promise<Weighed | undefined> {
  const shared = await sharedRoutingCandidates(deps.db, input.tenantId, input.taskType, context);
  return weigh(deps, input, shared).catch((err: unknown) => {
    if (err instanceof AgentsBusyError) throw err;
    return undefined;
  });
}

/** Claims the first proposal that still has room, weighing again on fresh reads; AgentsBusyError after {@link CLAIM_ATTEMPTS}. */
async function claimFirstWithRoom(
  deps: ActivityDeps,
  input: RouteTaskInput,
  runId: string,
  context: string,
  first: Weighed | undefined,
): Promise<RoutingDecision> {
  for (let attempt = 1; ; attempt++) {
    const weighed =
      attempt === 1
        ? first
        : await weigh(deps, input, await routingCandidates(deps.db, input.tenantId, input.taskType, context));
    if (!weighed) continue;
    const decision = await claimDecision(deps.db, input, runId, weighed);
    if (decision) return decision;
    if (attempt >= CLAIM_ATTEMPTS)
      throw new AgentsBusyError(
        `agent '${weighed.chosen.agentId}' filled up or became unavailable while routing; waiting`,
      );
  }
}

/** `decision`, logged as the activity's result. */
function routed(decision: RoutingDecision): RoutingDecision {
  log.info('task routed', { agentId: decision.agentId, candidates: decision.candidates.length });
  return decision;
}

/** Builds the `routeTask` activity. */
export function createRoutingActivities(deps: ActivityDeps) {
  const { db } = deps;
  return {
    async routeTask(raw: RouteTaskInput): Promise<RoutingDecision> {
      const input = parseActivityInput(RouteTaskInput, raw);
      const { runId } = currentRun();
      const context = input.context ? contextKey(input.context) : '';
      // This run's decision, if a previous attempt made one, is read while the first proposal is
      // weighed; it wins over the proposal and over any refusal (its own task may fill the agent).
      const [recorded, first] = await Promise.allSettled([
        recordedDecision(db, input, runId),
        proposeOnSharedRead(deps, input, context),
      ]);
      if (recorded.status === 'rejected') throw recorded.reason;
      if (recorded.value) {
        // A decision an earlier attempt claimed may predate claims that append their event (it is appended once).
        await appendProvenance(db, routedEvent(input, runId, recorded.value));
        return routed(recorded.value);
      }
      if (first.status === 'rejected') throw first.reason;
      return routed(await claimFirstWithRoom(deps, input, runId, context, first.value));
    },
  };
}
