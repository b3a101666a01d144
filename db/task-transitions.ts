/**
 * A lifecycle transition written in one statement: the task row created or locked, the run's
 * right to write it decided, the row moved and the event inserted. A task makes ten transitions;
 * as transactions of six round trips each (begin, insert, lock, update, event, commit) they were
 * half of the statements a task sent to PostgreSQL.
 */
import { sql } from 'drizzle-orm';
import type { TaskState } from '../domain/lifecycle';
import { namedStatement, value as v, type DbExecutor } from './client';
import { taskEvents, tasks } from './schema';
import { openToSuccessor } from './tasks';

/** The task columns a transition may set; an absent one keeps the row's value. */
export interface TransitionColumns {
  repoPath?: string;
  specId?: string;
  riskTier?: number;
  agentId?: string;
  verdict?: string;
  error?: string;
}

/** One transition of one run, as `recordTransition` writes it. */
export interface TaskTransition {
  tenantId: string;
  taskId: string;
  workflowId: string;
  runId: string;
  seq: number;
  from: TaskState | null;
  to: TaskState;
  at: Date;
  note?: string;
  columns: TransitionColumns;
}

/**
 * What the statement decided. `created`: the row is new. `updated`: this run moved it.
 * `stale`: this run's row is at or past `seq` already (a late attempt), left as it is.
 * `taken-over`: another run left the task unfinished, and this run took it (the verdict and error
 * it left are cleared). `ended`: another run ended the task, or claimed its delivery (it may have
 * written the branch already), so nothing was written. `raced`: another transaction created the row meanwhile,
 * nothing was written, and trying again sees it.
 */
export type TransitionOutcome = 'created' | 'updated' | 'stale' | 'taken-over' | 'ended' | 'raced';

/** The outcome, and the row's run and state before this statement (absent when it had no row). */
export interface TransitionResult {
  outcome: TransitionOutcome;
  previousRunId?: string;
  previousState?: TaskState;
}

/** The statement, compiled once and prepared per connection: a task makes ten transitions. */
const transitionStatement = namedStatement<{
  outcome: TransitionOutcome;
  previous_run_id: string | null;
  previous_state: TaskState | null;
}>(
  'task-transition',
  sql`
    WITH cur AS (
      SELECT run_id, state, last_seq, delivering_run_id FROM ${tasks} WHERE tenant_id = ${v('tenantId')} AND id = ${v('taskId')} FOR UPDATE
    ),
    ins AS (
      INSERT INTO ${tasks} (tenant_id, id, workflow_id, run_id, state, last_seq, repo_path, spec_id, risk_tier, agent_id, verdict, error)
      SELECT ${v('tenantId')}, ${v('taskId')}, ${v('workflowId')}, ${v('runId')}, ${v('to')}, ${v('seq')}::integer,
        ${v('repo')}, ${v('spec')}, ${v('risk')}::integer, ${v('agent')}, ${v('verdict')}, ${v('error')}
      WHERE NOT EXISTS (SELECT 1 FROM cur)
      ON CONFLICT DO NOTHING
      RETURNING 1
    ),
    decision AS (
      SELECT CASE
          WHEN cur.state IS NULL THEN CASE WHEN EXISTS (SELECT 1 FROM ins) THEN 'created' ELSE 'raced' END
          WHEN cur.run_id <> ${v('runId')} AND NOT ${openToSuccessor} THEN 'ended'
          WHEN cur.run_id <> ${v('runId')} THEN 'taken-over'
          WHEN cur.last_seq >= ${v('seq')}::integer THEN 'stale'
          ELSE 'updated'
        END AS outcome,
        cur.run_id AS previous_run_id, cur.state AS previous_state
      FROM (SELECT 1) AS one LEFT JOIN cur ON true
    ),
    moved AS (
      UPDATE ${tasks} SET workflow_id = ${v('workflowId')}, run_id = ${v('runId')}, state = ${v('to')}, last_seq = ${v('seq')}::integer,
        repo_path = coalesce(${v('repo')}, repo_path), spec_id = coalesce(${v('spec')}, spec_id),
        risk_tier = coalesce(${v('risk')}::integer, risk_tier), agent_id = coalesce(${v('agent')}, agent_id),
        verdict = CASE WHEN (SELECT outcome FROM decision) = 'taken-over' THEN ${v('verdict')} ELSE coalesce(${v('verdict')}, verdict) END,
        error = CASE WHEN (SELECT outcome FROM decision) = 'taken-over' THEN ${v('error')} ELSE coalesce(${v('error')}, error) END,
        updated_at = now()
      WHERE tenant_id = ${v('tenantId')} AND id = ${v('taskId')} AND (SELECT outcome FROM decision) IN ('updated', 'taken-over')
    ),
    event AS (
      INSERT INTO ${taskEvents} (tenant_id, task_id, run_id, seq, from_state, to_state, at, note)
      SELECT ${v('tenantId')}, ${v('taskId')}, ${v('runId')}, ${v('seq')}::integer, ${v('from')}, ${v('to')}, ${v('at')}::timestamptz, ${v('note')}
      WHERE (SELECT outcome FROM decision) NOT IN ('ended', 'raced')
      ON CONFLICT DO NOTHING
    )
    SELECT outcome, previous_run_id, previous_state FROM decision`,
);

/** Writes `t` under the rules above; an event already recorded for `(run, seq)` is not written twice. */
export async function recordTaskTransition(db: DbExecutor, t: TaskTransition): Promise<TransitionResult> {
  const c = t.columns;
  const { rows } = await transitionStatement(db, {
    tenantId: t.tenantId,
    taskId: t.taskId,
    workflowId: t.workflowId,
    runId: t.runId,
    seq: t.seq,
    from: t.from,
    to: t.to,
    at: t.at.toISOString(),
    note: t.note ?? null,
    repo: c.repoPath ?? null,
    spec: c.specId ?? null,
    risk: c.riskTier ?? null,
    agent: c.agentId ?? null,
    verdict: c.verdict ?? null,
    error: c.error ?? null,
  });
  const [row] = rows;
  return {
    outcome: row.outcome,
    ...(row.previous_state === null
      ? {}
      : { previousRunId: row.previous_run_id ?? '', previousState: row.previous_state }),
  };
}
