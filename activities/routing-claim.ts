/**
 * Recording a routing decision. A decision is proposed without locks, on candidates that may be
 * a moment old (activities/routing.ts), then claimed here under a lock on the chosen agent: the
 * agent's row and its count of running tasks are read again, and the decision written only if
 * the agent's row is as the proposal read it (not re-registered, paused or retired since), still
 * the tenant's to use, not circuit-broken and under its limit, in the same transaction. So
 * concurrent tasks never overfill an agent, and a paused or retired agent is never claimed.
 * The decision's event joins the tenant's provenance chain in the same transaction, so the claim
 * takes the chain's lock with the agent's: the tenant's other provenance appends, and its claims
 * for other agents, wait while one claim runs its statement (as long as that waits for a pause of
 * its agent to commit), inserts its event and commits. Nothing slow (no call to Temporal) happens
 * under the locks.
 */
import { sql } from 'drizzle-orm';
import type { RouteTaskInput, RoutingDecision } from '../domain/activity-io';
import { agentRunSeconds } from '../domain/agent';
import { storableJson } from '../domain/bounds';
import { RecordMismatchError } from '../domain/errors';
import { activeTaskCountOf, getAgent } from '../db/agents';
import { namedStatement, value as v, type Db, type DbExecutor } from '../db/client';
import {
  appendAfterHead,
  chainHeadQuery,
  chainLock,
  runEvent,
  runEventKey,
  type ChainHeadRow,
  type ProvenanceEvent,
} from '../db/provenance';
import { agentCircuits, agents, routingDecisions } from '../db/schema';
import { knownClosedHolders } from './capacity';

/** What a decision's provenance event is keyed by within its run. */
const ROUTED = 'routed';
/** Arbitrary but fixed: with the agent's hash, `pg_advisory_xact_lock(class, hash)` is one lock per agent. */
const AGENT_LOCK_CLASS = 724_250_131;
/**
 * A candidate as routing assessed it; `busy` is dropped before it is recorded, and `mean` (its
 * posterior mean, when it was drawn) joins its reason only if it is recorded: with 1,000
 * candidates, formatting every reason cost a decision more than its sampling.
 */
export type AssessedCandidate = RoutingDecision['candidates'][number] & { busy?: boolean; mean?: number };

/** `c`'s reason as recorded, with its posterior mean when it was drawn. */
export function reasonOf(c: AssessedCandidate): string {
  return c.mean === undefined ? c.reason : `${c.reason}, posterior mean ${c.mean.toFixed(3)}`;
}

/** What weighing found (activities/routing-weigh.ts): the pick, why, and the candidates worth recording. */
export interface Weighed {
  chosen: AssessedCandidate;
  exploration: boolean;
  reason: string;
  /**
   * Besides the chosen one: the next best eligible candidates and the first refused ones with
   * their reasons. With 1,000 agents, writing all of them on every decision would cost more than deciding.
   */
  others: AssessedCandidate[];
  /** How many candidates were weighed, and how many of them were eligible. */
  weighed: number;
  eligible: number;
  /** The chosen agent's row as the proposal read it (db/routing-candidates.ts `version`). */
  version: string;
}

type Candidate = RoutingDecision['candidates'][number];

/** The candidates `weighed` keeps, as recorded, and what its reason adds when it kept fewer than it weighed. */
function compact(weighed: Weighed): { recorded: Candidate[]; summary: string } {
  const kept = [weighed.chosen, ...weighed.others].map((c) => ({
    agentId: c.agentId,
    eligible: c.eligible,
    score: Number(c.score.toFixed(6)),
    reason: reasonOf(c),
  }));
  const summary =
    kept.length < weighed.weighed
      ? ` (${weighed.weighed} candidates weighed, ${weighed.eligible} eligible; ${kept.length} recorded)`
      : '';
  return { recorded: kept, summary };
}

/** The chain's head as {@link insertIfRoom}'s statement names its columns. */
type ChainColumns = { chain_seen: string[] | null; chain_seq: number | null; chain_hash: string | null };

type ClaimRow = {
  /** Tasks the agent held when the claim looked, under its lock. */
  held: number;
  /** The agent's limit as its row says now. */
  limit: number | null;
  /** Whether the agent may take tasks now: the tenant's (or shared), its row as the proposal read it, active, circuit closed. */
  available: boolean;
  inserted: boolean;
  kind: string | null;
  config: Record<string, unknown> | null;
  /** The tenant's provenance chain, read under its lock: its last row and whether it has this run's routed event. */
  chain: ChainHeadRow;
};

/**
 * In one statement (read under the locks the statement before took): the agent's row and its
 * count of running tasks, and this run's decision inserted only if the agent is available and
 * that count, less `discount` (holders known closed), is under its limit; and the head of the
 * tenant's provenance chain, which the decision's event will follow. The row is read FOR SHARE,
 * so a pause or re-registration waits for the claim, and the claim for it. A decision this run
 * already has wins: nothing is inserted.
 */
const claimStatement = namedStatement<Omit<ClaimRow, 'chain'> & ChainColumns>(
  'routing-claim',
  sql`
    WITH held AS (${activeTaskCountOf(v('agentId'))}),
    agent AS (
      SELECT a.kind, a.config, a.max_concurrency, a.updated_at = ${v('version')}::timestamptz
        AND a.status = 'active' AND NOT EXISTS (SELECT 1 FROM ${agentCircuits} ci WHERE ci.tenant_id = ${v('tenantId')}
          AND ci.agent_id = a.id AND ci.circuit_open_until > now()) AS available
      FROM ${agents} a WHERE a.id = ${v('agentId')} AND (a.tenant_id IS NULL OR a.tenant_id = ${v('tenantId')})
      FOR SHARE
    ),
    inserted AS (
      INSERT INTO ${routingDecisions} (tenant_id, task_id, run_id, agent_id, task_type, reason, exploration, candidates)
      SELECT ${v('tenantId')}, ${v('taskId')}, ${v('runId')}, ${v('agentId')}, ${v('taskType')}, ${v('reason')},
        ${v('exploration')}, ${v('candidates')}::jsonb
      FROM held, agent WHERE agent.available AND held.n - ${v('discount')} < agent.max_concurrency
      ON CONFLICT DO NOTHING
      RETURNING 1
    )
    SELECT held.n AS held, agent.max_concurrency AS limit, coalesce(agent.available, false) AS available,
      EXISTS (SELECT 1 FROM inserted) AS inserted, agent.kind, agent.config,
      chain.seen AS chain_seen, chain.seq AS chain_seq, chain.hash AS chain_hash
    FROM held LEFT JOIN agent ON true
    CROSS JOIN (${chainHeadQuery(v('tenantId'), v('eventKeys'))}) chain`,
);

/** The agent's lock, then the tenant's provenance chain's: each claim takes them in this order. */
const claimLocks = namedStatement(
  'routing-claim-locks',
  sql`SELECT pg_advisory_xact_lock(${AGENT_LOCK_CLASS}, hashtext(${v('agentId')})), ${chainLock(v('tenantId'))}`,
);

/** {@link claimStatement} for this run's `decision`. */
async function insertIfRoom(
  tx: DbExecutor,
  input: RouteTaskInput,
  runId: string,
  decision: { agentId: string; reason: string; exploration: boolean; candidates: Candidate[]; version: string },
  discount: number,
): Promise<ClaimRow> {
  const { tenantId, taskId, taskType } = input;
  const { rows } = await claimStatement(tx, {
    ...decision,
    tenantId,
    taskId,
    taskType,
    runId,
    candidates: storableJson(decision.candidates),
    discount,
    eventKeys: [runEventKey(taskId, runId, ROUTED)],
  });
  const { chain_seen, chain_seq, chain_hash, ...claim } = rows[0];
  return { ...claim, chain: { seen: chain_seen, seq: chain_seq, hash: chain_hash } };
}

const recordedStatement = namedStatement<{
  agentId: string;
  taskType: string;
  reason: string;
  exploration: boolean;
  candidates: Candidate[];
}>(
  'routing-recorded',
  sql`SELECT agent_id AS "agentId", task_type AS "taskType", reason, exploration, candidates FROM ${routingDecisions}
    WHERE tenant_id = ${v('tenantId')} AND task_id = ${v('taskId')} AND run_id = ${v('runId')}`,
);

/** This run's recorded decision, if any; one made for another task type or agent request is refused. */
export async function recordedDecision(
  db: DbExecutor,
  input: RouteTaskInput,
  runId: string,
): Promise<RoutingDecision | undefined> {
  const { tenantId, taskId } = input;
  const [row] = (await recordedStatement(db, { tenantId, taskId, runId })).rows;
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
 * Writes `weighed` as this run's decision if its agent is still available and has room;
 * undefined when it is not (concurrent decisions filled it, or its row changed since the
 * candidates were read: the caller weighs again). A decision this run already has wins. Five
 * round trips: begin, the locks (the agent's, then the tenant's provenance chain's), the claim
 * with the chain's head, the event's insert, commit; and (only when the agent looks full while
 * this worker knows closed runs) a second claim that discounts them.
 */
export async function claimDecision(
  db: Db,
  input: RouteTaskInput,
  runId: string,
  weighed: Weighed,
): Promise<RoutingDecision | undefined> {
  const { agentId } = weighed.chosen;
  const { recorded, summary } = compact(weighed);
  const decision = {
    agentId,
    reason: weighed.reason + summary,
    exploration: weighed.exploration,
    candidates: recorded,
  };
  const claimed = { ...decision, version: weighed.version };
  return db.transaction(async (tx) => {
    await claimLocks(tx, { agentId, tenantId: input.tenantId });
    let claim = await insertIfRoom(tx, input, runId, claimed, 0);
    if (claim.available && !claim.inserted && claim.held >= (claim.limit as number)) {
      const closed = await knownClosedHolders(tx, agentId);
      if (closed > 0) claim = await insertIfRoom(tx, input, runId, claimed, closed);
    }
    const { kind, config } = claim as ClaimRow & { kind: string; config: Record<string, unknown> };
    const decided = claim.inserted
      ? { agentKind: kind, maxRunSeconds: agentRunSeconds(kind, config), ...decision }
      : await recordedDecision(tx, input, runId);
    if (decided) await appendAfterHead(tx, claim.chain, [routedEvent(input, runId, decided)]);
    return decided;
  });
}

/**
 * The provenance event of this run's decision. The claim appends it in its own transaction, so a
 * decision is never stored without its event (and one commit serves both).
 */
export function routedEvent(input: RouteTaskInput, runId: string, decision: RoutingDecision): ProvenanceEvent {
  const { tenantId, taskId, taskType } = input;
  const { agentId, exploration } = decision;
  return runEvent({ tenantId, taskId, runId }, ROUTED, 'task.routed', { agentId, exploration, taskType, runId });
}
