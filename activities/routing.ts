/**
 * `routeTask`: among agents that are active, capable, under their concurrency limit and not
 * circuit-broken, picks one: an agent never tried on the task type first, else by Thompson
 * sampling over the tenant's statistics for the task's context backed by its type
 * (domain/bandit.ts), seeded by the task so the same inputs give the same decision
 * (activities/routing-weigh.ts). Records the pick, the best scores and first refusals, and
 * whether it was exploration. The pick is weighed without locks, on the
 * registry as read for any decision of the last moment (db/routing-candidates.ts), and claimed
 * under the chosen agent's lock, which checks that agent again (activities/routing-claim.ts), so
 * concurrent tasks never overfill an agent and a stale read never routes to an agent that may
 * not take the task. Decisions are kept per run: a decision already recorded for this run is
 * returned as is, so a retry never routes twice, and one that does not fit this request is
 * refused rather than reused.
 */
import { log } from '@temporalio/activity';
import { RouteTaskInput, type RoutingDecision } from '../domain/activity-io';
import { AgentsBusyError } from '../domain/errors';
import { contextKey } from '../domain/routing-context';
import { routingCandidates, sharedRoutingCandidates } from '../db/routing-candidates';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { appendProvenance } from '../db/provenance';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';
import { claimDecision, recordedDecision, routedEvent, type Weighed } from './routing-claim';
import { weigh } from './routing-weigh';

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
      const run = currentRun();
      const { runId } = run;
      await requireOwnTask(db, input, run, { open: true });
      const context = input.context ? contextKey(input.context) : '';
      // The first proposal is weighed while this run's decision, if a previous attempt made one,
      // is read; that decision wins over the proposal and over any refusal (its own task may fill
      // the agent), and then the proposal is left to finish unheeded.
      const proposal = proposeOnSharedRead(deps, input, context);
      proposal.catch(() => undefined);
      const recorded = await recordedDecision(db, input, runId);
      if (recorded) {
        // A decision an earlier attempt claimed may predate claims that append their event (it is appended once).
        await appendProvenance(db, routedEvent(input, runId, recorded));
        return routed(recorded);
      }
      return routed(await claimFirstWithRoom(deps, input, runId, context, await proposal));
    },
  };
}
