/**
 * Weighing a routing decision: which candidates may take the task now, and the pick among them
 * by Thompson sampling (domain/bandit.ts), seeded by the task so the same inputs give the same
 * pick. With 1,000 agents this runs on every decision, so one pass assesses every candidate and
 * only the candidates a decision records become objects of their own.
 */
import type { RouteTaskInput } from '../domain/activity-io';
import { canHandleTaskType } from '../domain/agent';
import { contextualChoose, hashSeed, type ContextArm } from '../domain/bandit';
import { AgentsBusyError, NoCapableAgentError } from '../domain/errors';
import type { RoutingCandidate } from '../db/routing-candidates';
import { closedRunCorrections } from './capacity';
import type { ActivityDeps } from './deps';
import { reasonOf, type AssessedCandidate as Candidate, type Weighed } from './routing-claim';

/** Candidates recorded besides the chosen one: the best eligible and the first refused. */
const RECORDED_ELIGIBLE = 9;
const RECORDED_REFUSED = 20;

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

/** Whether `agent` may take the task now, as {@link assess} says, without building its reason. */
function isEligible(agent: RoutingCandidate['agent'], taskType: string, running: number, now: Date): boolean {
  return (
    agent.status === 'active' &&
    canHandleTaskType(agent.capabilities, taskType) &&
    !(agent.circuitOpenUntil && agent.circuitOpenUntil > now) &&
    running < agent.maxConcurrency
  );
}

/** How one decision sees every candidate: its task type, one instant, and the tasks each holds. */
interface Frame {
  taskType: string;
  now: Date;
  running: (f: RoutingCandidate) => number;
}

/** An eligible candidate and the tasks it holds. */
type Eligible = { found: RoutingCandidate; running: number };

/** {@link assess} of `f` in `frame`. */
function assessIn(frame: Frame, f: RoutingCandidate): Candidate {
  return assess(f.agent, frame.taskType, frame.running(f), frame.now);
}

/** Every eligible candidate, and the first {@link RECORDED_REFUSED} refused ones with why. */
function assessAll(found: RoutingCandidate[], frame: Frame) {
  const eligible: Eligible[] = [];
  const refused: Candidate[] = [];
  for (const f of found) {
    const n = frame.running(f);
    if (isEligible(f.agent, frame.taskType, n, frame.now)) eligible.push({ found: f, running: n });
    else if (refused.length < RECORDED_REFUSED) refused.push(assessIn(frame, f));
  }
  return { eligible, refused };
}

/** The refusal, or the deferral when some are only busy, when nobody is eligible: names every candidate and why. */
function noneEligible(found: RoutingCandidate[], frame: Frame): Error {
  const all = found.map((f) => assessIn(frame, f));
  const why = all.length ? all.map((c) => `${c.agentId}: ${c.reason}`).join('; ') : 'no agents are registered';
  if (all.some((c) => c.busy))
    return new AgentsBusyError(`every capable agent for task type '${frame.taskType}' is busy (${why}); waiting`);
  return new NoCapableAgentError(`no capable agent for task type '${frame.taskType}' (${why})`);
}

/** An eligible candidate as recorded. */
function eligibleCandidate({ found, running }: Eligible, score = 0, mean?: number): Candidate {
  const { id, maxConcurrency } = found.agent;
  return { agentId: id, eligible: true, score, mean, reason: `capable, ${running}/${maxConcurrency} busy` };
}

/** The hinted agent when it is eligible; busy means wait, anything else is a refusal naming why. */
function pickHinted(hint: string, found: RoutingCandidate[], frame: Frame): RoutingCandidate {
  const hinted = found.find((f) => f.agent.id === hint);
  if (!hinted) throw new NoCapableAgentError(`requested agent '${hint}' is not registered for this tenant`);
  const verdict = assessIn(frame, hinted);
  if (verdict.busy) throw new AgentsBusyError(`requested agent '${hint}' is ${verdict.reason}; waiting`);
  if (!verdict.eligible)
    throw new NoCapableAgentError(`requested agent '${hint}' cannot take the task: ${verdict.reason}`);
  return hinted;
}

/** The pick by draw among the eligible, the next best draws, and whether it was exploration. */
function draw(input: RouteTaskInput, eligible: Eligible[]) {
  const arms: ContextArm[] = eligible.map(({ found, running }) => ({
    agentId: found.agent.id,
    type: { successes: found.successes, failures: found.failures },
    context: found.context,
    running,
  }));
  const choice = contextualChoose(arms, hashSeed(`${input.tenantId}/${input.taskId}`), RECORDED_ELIGIBLE + 1);
  const byId = (id: string) => eligible.find((e) => e.found.agent.id === id) as Eligible;
  const [chosen, ...next] = choice.scores.map((s) => eligibleCandidate(byId(s.agentId), s.sample, s.mean));
  return { chosen, next, exploration: choice.exploration };
}

/** The requested agent as the pick (no draw), and the first other eligible candidates. */
function requested(hinted: RoutingCandidate, eligible: Eligible[]) {
  const chosen = eligibleCandidate(eligible.find((e) => e.found === hinted) as Eligible);
  const others = eligible.filter((e) => e.found !== hinted).slice(0, RECORDED_ELIGIBLE);
  return { chosen, next: others.map((e) => eligibleCandidate(e)), exploration: false };
}

/**
 * Assesses `found` (every agent the tenant may use, read without any lock) and picks one: the
 * pick is only a proposal until the claim (activities/routing-claim.ts) confirms, under the chosen
 * agent's lock, that it still has room.
 */
export async function weigh(deps: ActivityDeps, input: RouteTaskInput, found: RoutingCandidate[]): Promise<Weighed> {
  const corrected = await closedRunCorrections(deps.db, deps, found);
  const frame: Frame = {
    taskType: input.taskType,
    now: new Date(),
    running: (f) => corrected.get(f.agent.id) ?? f.running,
  };
  const { eligible, refused } = assessAll(found, frame);
  if (!input.agentHint && !eligible.length) throw noneEligible(found, frame);
  const { chosen, next, exploration } = input.agentHint
    ? requested(pickHinted(input.agentHint, found, frame), eligible)
    : draw(input, eligible);
  const why = input.agentHint ? 'requested by submitter' : exploration ? 'exploring' : 'best draw';
  const version = (found.find((f) => f.agent.id === chosen.agentId) as RoutingCandidate).version;
  return {
    chosen,
    exploration,
    reason: `${why}; ${reasonOf(chosen)}`,
    others: [...next, ...refused],
    weighed: found.length,
    eligible: eligible.length,
    version,
  };
}
