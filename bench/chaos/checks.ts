/**
 * The invariants a chaos run must keep, read afterwards from PostgreSQL and Temporal: every
 * task ended (else lost), one run, gap-free events, one verdict once verification began, at
 * most one delivery, statistics counted once, no capacity held; and the longest stall ({@link longestStall}).
 */
import type { Client } from '@temporalio/client';
import { activeTaskCounts } from '../../db/agents';
import type { Database } from '../../db/client';
import { isTerminal } from '../../domain/lifecycle';
import { taskWorkflowId } from '../../temporal-config';
import type { InjectedFault } from './faults';
import { CHAOS_TENANTS, chaosTask } from './load';
import { longestStall, type Stall } from './stall';

/** What the checks found. Any entry in `lost`, `duplicated` or `broken` is a violation. */
export interface ChaosFindings {
  outcomes: Record<string, number>;
  /** Why tasks did not complete: error text (shortened) and how many. */
  errors: Record<string, number>;
  lost: string[];
  duplicated: string[];
  broken: string[];
  /** The longest fault-free time a task in flight at a fault's recovery waited for its next transition. */
  stall: Stall;
}

interface TaskEvent {
  key: string;
  run_id: string;
  seq: number;
  to_state: string;
  created_at: Date;
}

const keyOf = (tenantId: string, taskId: string) => `${tenantId}/${taskId}`;

async function grouped(database: Database, sql: string): Promise<Map<string, number>> {
  const { rows } = await database.pool.query<{ key: string; n: number }>(sql, [CHAOS_TENANTS]);
  return new Map(rows.map((r) => [r.key, r.n]));
}

/** Runs every check over the first `submitted` tasks. */
export async function checkChaos(options: {
  database: Database;
  temporal: Client;
  submitted: number;
  agentIds: string[];
  faults: InjectedFault[];
  endedAt: number;
}): Promise<ChaosFindings> {
  const { database } = options;
  const findings: ChaosFindings = { outcomes: {}, errors: {}, lost: [], duplicated: [], broken: [], stall: { ms: 0 } };
  const { rows: taskRows } = await database.pool.query<{ key: string; state: string; error: string | null }>(
    `select tenant_id||'/'||id as key, state, error from tasks where tenant_id = any($1)`,
    [CHAOS_TENANTS],
  );
  const stateOf = new Map(taskRows.map((r) => [r.key, r.state]));
  for (const { error } of taskRows) {
    const reason = error?.slice(0, 120);
    if (reason) findings.errors[reason] = (findings.errors[reason] ?? 0) + 1;
  }
  const { rows: events } = await database.pool.query<TaskEvent>(
    `select tenant_id||'/'||task_id as key, run_id, seq, to_state, created_at from task_events
      where tenant_id = any($1) order by created_at, id`,
    [CHAOS_TENANTS],
  );
  const verdicts = await grouped(
    database,
    `select tenant_id||'/'||task_id as key, count(*)::int as n from verdicts where tenant_id = any($1) group by 1`,
  );
  const deliveries = await grouped(
    database,
    `select subject as key, count(*)::int as n from provenance_events where tenant_id = any($1) and kind = 'change.delivered' group by 1`,
  );
  const outcomes = await grouped(
    database,
    `select tenant_id||'/'||task_id as key, count(*)::int as n from agent_outcomes where tenant_id = any($1) group by 1`,
  );
  const byTask = new Map<string, TaskEvent[]>();
  for (const e of events) byTask.set(e.key, [...(byTask.get(e.key) ?? []), e]);
  for (let n = 0; n < options.submitted; n++) {
    const input = chaosTask(n);
    const key = keyOf(input.tenantId, input.taskId);
    const state = stateOf.get(key);
    findings.outcomes[state ?? 'missing'] = (findings.outcomes[state ?? 'missing'] ?? 0) + 1;
    const status = await options.temporal.workflow
      .getHandle(taskWorkflowId(input))
      .describe()
      .then((d) => d.status.name)
      .catch((err: Error) => `not found (${err.message})`);
    if (!state || !isTerminal(state as never) || status === 'RUNNING' || status.startsWith('not found')) {
      findings.lost.push(`${key}: database ${state ?? 'no row'}, workflow ${status}`);
    }
    checkTask(findings, key, state, byTask.get(key) ?? [], {
      verdicts: verdicts.get(key) ?? 0,
      deliveries: deliveries.get(key) ?? 0,
      outcomes: outcomes.get(key) ?? 0,
    });
  }
  await checkStatistics(findings, database, options.agentIds);
  const transitions = new Map(
    [...byTask].map(([key, list]) => [key, list.map((e) => ({ toState: e.to_state, at: e.created_at.getTime() }))]),
  );
  findings.stall = longestStall(transitions, options.faults, options.endedAt);
  return findings;
}

function checkTask(
  findings: ChaosFindings,
  key: string,
  state: string | undefined,
  events: TaskEvent[],
  counts: { verdicts: number; deliveries: number; outcomes: number },
): void {
  const runs = new Set(events.map((e) => e.run_id));
  if (runs.size > 1) findings.duplicated.push(`${key}: events of ${runs.size} runs`);
  const seqs = events.map((e) => e.seq).sort((a, b) => a - b);
  if (new Set(seqs).size !== seqs.length) findings.duplicated.push(`${key}: repeated event seq`);
  if (runs.size === 1 && seqs.some((s, i) => s !== i))
    findings.broken.push(`${key}: event seqs ${seqs.join(',')} have gaps`);
  const verifying = events.some((e) => e.to_state === 'VERIFYING');
  if (counts.verdicts > 1) findings.duplicated.push(`${key}: ${counts.verdicts} verdicts`);
  if (verifying && counts.verdicts === 0 && state && isTerminal(state as never))
    findings.broken.push(`${key}: verified (${state}) without a verdict`);
  if (counts.deliveries > 1) findings.duplicated.push(`${key}: ${counts.deliveries} deliveries`);
  if (state === 'COMPLETED' && counts.deliveries === 0) findings.broken.push(`${key}: COMPLETED without a delivery`);
  if (counts.outcomes > 1) findings.duplicated.push(`${key}: ${counts.outcomes} agent outcomes`);
  if (counts.verdicts === 1 && counts.outcomes === 0) findings.broken.push(`${key}: verdict without an agent outcome`);
}

/** Each agent's statistics count exactly its recorded outcomes, and no capacity is held once all ended. */
async function checkStatistics(findings: ChaosFindings, database: Database, agentIds: string[]): Promise<void> {
  const counted = await grouped(
    database,
    `select tenant_id||'/'||agent_id as key, sum(tasks)::int as n from agent_stats where tenant_id = any($1) group by 1`,
  );
  const recorded = await grouped(
    database,
    `select tenant_id||'/'||agent_id as key, count(*)::int as n from agent_outcomes where tenant_id = any($1) group by 1`,
  );
  for (const key of new Set([...counted.keys(), ...recorded.keys()])) {
    const [c, r] = [counted.get(key) ?? 0, recorded.get(key) ?? 0];
    if (c !== r) findings.duplicated.push(`agent ${key}: statistics count ${c} tasks, ${r} outcomes recorded`);
  }
  for (const [agentId, n] of await activeTaskCounts(database.db, agentIds)) {
    if (n > 0) findings.broken.push(`agent ${agentId}: ${n} tasks still counted as running (capacity leaked)`);
  }
}
