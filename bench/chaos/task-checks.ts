/**
 * The chaos run's per-task and per-agent checks, as pure functions of what the run left (gathered
 * by checks.ts from PostgreSQL, Temporal and the target repositories' git), so each can be tested
 * without servers. In this workload (scripted agents, trivial gates) every task must complete:
 * any other end is a violation, not an outcome to tally.
 */
import { isTerminal, type TaskState } from '../../domain/lifecycle';

/** One recorded lifecycle event of a task. */
export interface TaskEvent {
  runId: string;
  seq: number;
  toState: string;
}

/** What the run left of one task. */
export interface TaskRecord {
  /** `tenant/taskId`. */
  key: string;
  /** The task's delivery branch (`arbiter/<taskId>`), for messages. */
  branch: string;
  /** The tasks row's state and error; no state when there is no row. */
  state?: string;
  error?: string | null;
  /** The workflow's status by Temporal's describe, or `not found (…)`. */
  workflow: string;
  events: TaskEvent[];
  verdicts: number;
  /** Agent outcomes recorded for it: 0 or 1, the table is keyed by task. */
  outcomes: number;
  /** Each of its agent health reports' `ok`. */
  health: boolean[];
  /** The commit each of its `change.delivered` provenance records names. */
  deliveryRecords: string[];
  /** The commit its delivery branch points at in the target repository, read from git; none without the branch. */
  branchCommit?: string;
}

/** Violations by kind: tasks lost, things done twice, anything else broken. */
export interface Violations {
  lost: string[];
  duplicated: string[];
  broken: string[];
}

/** What the run left of one agent: its circuit breaker and the capacity it still counts as used. */
export interface AgentRecord {
  agentId: string;
  consecutiveInfraFailures: number;
  circuitOpenUntil: Date | null;
  running: number;
}

const shortened = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}…` : text);

/** Every violation one task shows; empty when it completed once, with everything recorded once. */
export function checkTask(task: TaskRecord): Violations {
  const found: Violations = { lost: [], duplicated: [], broken: [] };
  if (isLost(task)) found.lost.push(`${task.key}: database ${task.state ?? 'no row'}, workflow ${task.workflow}`);
  for (const check of [outcomeViolations, eventViolations, feedbackViolations, deliveryViolations]) {
    const { duplicated = [], broken = [] } = check(task);
    found.duplicated.push(...duplicated.map((v) => `${task.key}: ${v}`));
    found.broken.push(...broken.map((v) => `${task.key}: ${v}`));
  }
  return found;
}

/** Not ended by the database, or its workflow still running or gone. */
function isLost(task: TaskRecord): boolean {
  const ended = task.state !== undefined && isTerminal(task.state as TaskState);
  return !ended || task.workflow === 'RUNNING' || task.workflow.startsWith('not found');
}

type Found = Partial<Omit<Violations, 'lost'>>;

/** It ended COMPLETED (another end names its error) with exactly one verdict. */
function outcomeViolations(task: TaskRecord): Found {
  const broken: string[] = [];
  if (task.state && isTerminal(task.state as TaskState) && task.state !== 'COMPLETED')
    broken.push(`ended ${task.state}, not COMPLETED: ${shortened(task.error ?? 'no error recorded')}`);
  if (task.verdicts === 0) broken.push('no verdict');
  return { broken, duplicated: task.verdicts > 1 ? [`${task.verdicts} verdicts`] : [] };
}

/** One run, its events numbered 0, 1, 2, … once each. */
function eventViolations(task: TaskRecord): Found {
  const runs = new Set(task.events.map((e) => e.runId));
  const seqs = task.events.map((e) => e.seq).sort((a, b) => a - b);
  const duplicated = [
    ...(runs.size > 1 ? [`events of ${runs.size} runs`] : []),
    ...(new Set(seqs).size !== seqs.length ? ['repeated event seq'] : []),
  ];
  const gaps = runs.size === 1 && seqs.some((s, i) => s !== i);
  return { duplicated, broken: gaps ? [`event seqs ${seqs.join(',')} have gaps`] : [] };
}

/** A verdict feeds routing: one agent outcome and one health report, which reports no infrastructure failure. */
function feedbackViolations(task: TaskRecord): Found {
  const broken: string[] = [];
  if (task.health.includes(false)) broken.push('agent health reported an infrastructure failure');
  if (task.verdicts === 0) return { broken };
  if (task.outcomes === 0) broken.push('verdict without an agent outcome');
  if (task.health.length === 0) broken.push('verdict without an agent health report');
  return { broken, duplicated: task.health.length > 1 ? [`${task.health.length} agent health reports`] : [] };
}

/** COMPLETED: its branch exists, at the one commit recorded as delivered. Otherwise: no branch. */
function deliveryViolations(task: TaskRecord): Found {
  const { branch, branchCommit, deliveryRecords: records } = task;
  if (task.state !== 'COMPLETED')
    return { broken: branchCommit ? [`branch ${branch} exists though the task ended ${task.state ?? 'nowhere'}`] : [] };
  const broken: string[] = [];
  if (!branchCommit) broken.push(`COMPLETED but branch ${branch} does not exist`);
  if (records.length === 0) broken.push('COMPLETED without a delivery record');
  else if (branchCommit && !records.includes(branchCommit))
    broken.push(`branch ${branch} is at ${branchCommit}, delivery recorded ${records.join(', ')}`);
  return { broken, duplicated: records.length > 1 ? [`${records.length} delivery records`] : [] };
}

/** An agent ends the run with no infrastructure failures counted, its circuit closed and no capacity held. */
export function checkAgent(agent: AgentRecord): string[] {
  const broken: string[] = [];
  if (agent.consecutiveInfraFailures > 0)
    broken.push(`agent ${agent.agentId}: ${agent.consecutiveInfraFailures} infrastructure failures in a row`);
  if (agent.circuitOpenUntil)
    broken.push(`agent ${agent.agentId}: circuit opened (until ${agent.circuitOpenUntil.toISOString()})`);
  if (agent.running > 0)
    broken.push(`agent ${agent.agentId}: ${agent.running} tasks still counted as running (capacity leaked)`);
  return broken;
}
