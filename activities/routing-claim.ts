/**
 * Recording a routing decision. A decision is proposed without locks (activities/routing.ts),
 * then claimed here under a lock on the chosen agent alone: its count of running tasks is read
 * again, and the decision written only if the agent still has room, in the same transaction, so
 * concurrent tasks never overfill an agent while decisions for different agents never wait for
 * each other. Nothing slow (no call to Temporal) happens under the lock.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { RouteTaskInput, RoutingDecision } from '../domain/activity-io';
import { agentRunSeconds } from '../domain/agent';
import { RecordMismatchError } from '../domain/errors';
import { activeTaskCount, getAgent } from '../db/agents';
import type { Db, DbExecutor } from '../db/client';
import { routingDecisions } from '../db/schema';
import { knownClosedHolders } from './capacity';

/** Arbitrary but fixed: with the agent's hash, `pg_advisory_xact_lock(class, hash)` is one lock per agent. */
const AGENT_LOCK_CLASS = 724_250_131;
/** A candidate as routing assessed it; `busy` is dropped before it is recorded. */
export type AssessedCandidate = RoutingDecision['candidates'][number] & { busy?: boolean };

/** What {@link weigh} found: the pick, why, and every candidate as assessed. */
export interface Weighed {
  chosen: AssessedCandidate;
  exploration: boolean;
  reason: string;
  candidates: AssessedCandidate[];
  maxConcurrency: number;
}

/** Candidates recorded besides the chosen one: the highest-scored eligible and the first refused. */
const RECORDED_ELIGIBLE = 9;
const RECORDED_REFUSED = 20;

type Candidate = RoutingDecision['candidates'][number];

/**
 * The candidates worth keeping with a decision: the chosen one, the next highest scores, and the
 * first refused ones with their reasons; with 1,000 agents, writing all of them on every decision
 * would cost more than deciding. How many were weighed is said in the decision's reason.
 */
function compact(weighed: Weighed): { recorded: Candidate[]; summary: string } {
  const strip = ({ agentId, eligible, score, reason }: Candidate): Candidate => ({ agentId, eligible, score, reason });
  const all = weighed.candidates;
  const eligible = all.filter((c) => c.eligible && c.agentId !== weighed.chosen.agentId);
  const refused = all.filter((c) => !c.eligible && c.agentId !== weighed.chosen.agentId);
  const kept = [
    weighed.chosen,
    ...eligible.sort((a, b) => b.score - a.score).slice(0, RECORDED_ELIGIBLE),
    ...refused.slice(0, RECORDED_REFUSED),
  ];
  const summary =
    kept.length < all.length
      ? ` (${all.length} candidates weighed, ${eligible.length + 1} eligible; ${kept.length} recorded)`
      : '';
  return { recorded: kept.map(strip), summary };
}

/** Whether the agent can take one more task now; read under its lock. */
async function hasRoom(tx: DbExecutor, agentId: string, maxConcurrency: number): Promise<boolean> {
  const held = await activeTaskCount(tx, agentId);
  if (held < maxConcurrency) return true;
  return held - (await knownClosedHolders(tx, agentId)) < maxConcurrency;
}

/** This run's recorded decision, if any; one made for another task type or agent request is refused. */
export async function recordedDecision(
  db: DbExecutor,
  input: RouteTaskInput,
  runId: string,
): Promise<RoutingDecision | undefined> {
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
  const agent = await getAgent(db, row.agentId).catch(() => undefined);
  return {
    agentId: row.agentId,
    agentKind: agent?.kind ?? 'unknown',
    maxRunSeconds: agent && agentRunSeconds(agent.kind, agent.config),
    reason: row.reason,
    exploration: row.exploration,
    candidates: row.candidates,
  };
}

/**
 * Writes `weighed` as this run's decision if its agent still has room; undefined when concurrent
 * decisions filled it meanwhile (the caller weighs again). A decision this run already has wins.
 */
export async function claimDecision(
  db: Db,
  input: RouteTaskInput,
  runId: string,
  weighed: Weighed,
): Promise<RoutingDecision | undefined> {
  const { agentId } = weighed.chosen;
  return db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${AGENT_LOCK_CLASS}, hashtext(${agentId}))`);
    if (!(await hasRoom(tx, agentId, weighed.maxConcurrency))) return undefined;
    const { recorded, summary } = compact(weighed);
    const reason = weighed.reason + summary;
    // A decision this run already has (a concurrent attempt's) wins: the insert adds nothing, and that one is returned.
    const inserted = await tx
      .insert(routingDecisions)
      .values({
        tenantId: input.tenantId,
        taskId: input.taskId,
        runId,
        agentId,
        taskType: input.taskType,
        reason,
        exploration: weighed.exploration,
        candidates: recorded,
      })
      .onConflictDoNothing()
      .returning({ runId: routingDecisions.runId });
    if (inserted.length === 0) return recordedDecision(tx, input, runId);
    const agent = await getAgent(tx, agentId);
    return {
      agentId,
      agentKind: agent.kind,
      maxRunSeconds: agentRunSeconds(agent.kind, agent.config),
      reason,
      exploration: weighed.exploration,
      candidates: recorded,
    };
  });
}
