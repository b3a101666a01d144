/**
 * The invariants a chaos run must keep, read afterwards from PostgreSQL, Temporal and the target
 * repositories' git, and judged by task-checks.ts: every task COMPLETED (else lost or broken) in
 * one run with gap-free events, one verdict, its outcome and one healthy report fed to routing,
 * its delivery branch at the commit recorded as delivered (and no other delivery branch); each
 * agent's circuit closed with no capacity held; and the longest stall ({@link longestStall}).
 */
import type { Client } from '@temporalio/client';
import { activeTaskCounts } from '../../db/agents';
import type { Database } from '../../db/client';
import { git } from '../../host/git';
import { DELIVERY_BRANCH_PREFIX, deliveryBranch, taskWorkflowId } from '../../temporal-config';
import type { InjectedFault } from './faults';
import { CHAOS_TENANTS, chaosTask } from './load';
import { longestStall, type Stall, type Transition } from './stall';
import { checkAgent, checkTask, type TaskEvent, type TaskRecord, type Violations } from './task-checks';

/** What the checks found. Any entry in `lost`, `duplicated` or `broken` is a violation. */
export interface ChaosFindings extends Violations {
  /** How many tasks ended in each state (`missing`: no row). */
  outcomes: Record<string, number>;
  /** Why tasks did not complete: error text (shortened) and how many. */
  errors: Record<string, number>;
  /** The longest fault-free time a task in flight at a fault's recovery waited for its next transition. */
  stall: Stall;
}

/** What the database and git hold of every chaos task, by `tenant/taskId`. */
interface RunRecords {
  tasks: Map<string, { state: string; error: string | null }>;
  events: Map<string, Array<TaskEvent & Transition>>;
  verdicts: Map<string, number>;
  outcomes: Map<string, number>;
  health: Map<string, boolean[]>;
  deliveries: Map<string, string[]>;
  branches: Map<string, string>;
}

const keyOf = (tenantId: string, taskId: string) => `${tenantId}/${taskId}`;

/** `key` → `v` of a query over the chaos tenants' rows (the query's only parameter). */
async function keyed<T>(database: Database, sql: string): Promise<Map<string, T>> {
  const { rows } = await database.pool.query<{ key: string; v: T }>(sql, [CHAOS_TENANTS]);
  return new Map(rows.map((r) => [r.key, r.v]));
}

/** Each delivery branch in the tenants' repositories and its commit, read from git. */
async function deliveryBranches(repos: Record<string, string>): Promise<Map<string, string>> {
  const branches = new Map<string, string>();
  for (const [tenantId, repo] of Object.entries(repos)) {
    const refs = `refs/heads/${DELIVERY_BRANCH_PREFIX}`;
    const out = await git(repo, ['for-each-ref', '--format=%(refname) %(objectname)', refs]);
    for (const [ref, commit] of out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(' ')))
      branches.set(keyOf(tenantId, ref.slice(refs.length)), commit);
  }
  return branches;
}

async function readRecords(database: Database, repos: Record<string, string>): Promise<RunRecords> {
  const tenantKey = `tenant_id||'/'||task_id as key`;
  const { rows: events } = await database.pool.query<TaskEvent & Transition & { key: string }>(
    `select ${tenantKey}, run_id as "runId", seq, to_state as "toState", (extract(epoch from created_at) * 1000)::float8 as at
       from task_events where tenant_id = any($1) order by created_at, id`,
    [CHAOS_TENANTS],
  );
  const byTask = new Map<string, Array<TaskEvent & Transition>>();
  for (const e of events) byTask.set(e.key, [...(byTask.get(e.key) ?? []), e]);
  const count = (table: string) =>
    keyed<number>(
      database,
      `select ${tenantKey}, count(*)::int as v from ${table} where tenant_id = any($1) group by 1`,
    );
  return {
    tasks: await keyed(
      database,
      `select tenant_id||'/'||id as key, json_build_object('state', state, 'error', error) as v from tasks where tenant_id = any($1)`,
    ),
    events: byTask,
    verdicts: await count('verdicts'),
    outcomes: await count('agent_outcomes'),
    health: await keyed(
      database,
      `select ${tenantKey}, array_agg(ok) as v from agent_health_reports where tenant_id = any($1) group by 1`,
    ),
    deliveries: await keyed(
      database,
      `select subject as key, array_agg(payload->>'commit') as v from provenance_events
        where tenant_id = any($1) and kind = 'change.delivered' group by 1`,
    ),
    branches: await deliveryBranches(repos),
  };
}

/** The workflow's status, or `not found (…)`. */
function workflowStatus(temporal: Client, workflowId: string): Promise<string> {
  return temporal.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.status.name)
    .catch((err: Error) => `not found (${err.message})`);
}

/** Runs every check over the submitted tasks (`submittedAt`: when the load submitted each, in order). */
export async function checkChaos(options: {
  database: Database;
  temporal: Client;
  submittedAt: number[];
  agentIds: string[];
  repos: Record<string, string>;
  faults: InjectedFault[];
  endedAt: number;
}): Promise<ChaosFindings> {
  const records = await readRecords(options.database, options.repos);
  const findings: ChaosFindings = { outcomes: {}, errors: {}, lost: [], duplicated: [], broken: [], stall: { ms: 0 } };
  const strayBranches = new Map(records.branches);
  for (let n = 0; n < options.submittedAt.length; n++) {
    const input = chaosTask(n);
    const key = keyOf(input.tenantId, input.taskId);
    strayBranches.delete(key);
    const task = records.tasks.get(key);
    tally(findings, task);
    const found = checkTask({
      key,
      branch: deliveryBranch(input.taskId),
      ...task,
      workflow: await workflowStatus(options.temporal, taskWorkflowId(input)),
      events: records.events.get(key) ?? [],
      verdicts: records.verdicts.get(key) ?? 0,
      outcomes: records.outcomes.get(key) ?? 0,
      health: records.health.get(key) ?? [],
      deliveryRecords: records.deliveries.get(key) ?? [],
      branchCommit: records.branches.get(key),
    } satisfies TaskRecord);
    for (const kind of ['lost', 'duplicated', 'broken'] as const) findings[kind].push(...found[kind]);
  }
  for (const key of strayBranches.keys()) findings.broken.push(`${key}: a delivery branch for no submitted task`);
  findings.broken.push(...(await agentViolations(options.database, options.agentIds)));
  const timelines = options.submittedAt.map((submittedAt, n) => {
    const key = keyOf(chaosTask(n).tenantId, chaosTask(n).taskId);
    return [key, { submittedAt, transitions: records.events.get(key) ?? [] }] as const;
  });
  findings.stall = longestStall(new Map(timelines), options.faults, options.endedAt);
  return findings;
}

/** Counts the task's end state, and its error when it has one. */
function tally(findings: ChaosFindings, task: { state: string; error: string | null } | undefined): void {
  const state = task?.state ?? 'missing';
  findings.outcomes[state] = (findings.outcomes[state] ?? 0) + 1;
  const reason = task?.error?.slice(0, 120);
  if (reason) findings.errors[reason] = (findings.errors[reason] ?? 0) + 1;
}

/** Each chaos agent's circuit breakers (any tenant's) and held capacity, judged by {@link checkAgent}. */
async function agentViolations(database: Database, agentIds: string[]): Promise<string[]> {
  const { rows } = await database.pool.query<{ id: string; failures: number; openUntil: Date | null }>(
    `select a.id, coalesce(max(c.consecutive_infra_failures), 0) as failures, max(c.circuit_open_until) as "openUntil"
       from agents a left join agent_circuits c on c.agent_id = a.id where a.id = any($1) group by a.id`,
    [agentIds],
  );
  const running = await activeTaskCounts(database.db, agentIds);
  return rows.flatMap((r) =>
    checkAgent({
      agentId: r.id,
      consecutiveInfraFailures: r.failures,
      circuitOpenUntil: r.openUntil,
      running: running.get(r.id) ?? 0,
    }),
  );
}
