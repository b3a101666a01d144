/**
 * Arbiter's own metrics about tasks, emitted from the workflow so each event counts once: the
 * SDK drops workflow metrics while a history replays, so a worker restart, a cache eviction or
 * a reset never counts a transition twice. They reach the worker's Prometheus endpoint beside
 * the SDK's own, tagged with namespace, task queue and workflow type.
 *
 * Every label is from a closed set (states, verdicts, gate kinds and statuses) or names an
 * agent an administrator registered: nothing a submitter writes becomes a label, so no input
 * can grow the number of series.
 */
import { metricMeter, workflowInfo } from '@temporalio/workflow';
import { isTerminal, type TaskState } from '../domain/lifecycle';
import type { GateResult, VerdictOutcome } from '../domain/task';

// Instruments are made at each use: the workflow meter exists only inside a workflow's context,
// and an instrument is only a name to the sink that carries values to the worker.
const counter = (name: string, description: string) => () => metricMeter.createCounter(name, '', description);
const histogram = (name: string, valueType: 'int' | 'float', unit: string, description: string) => () =>
  metricMeter.createHistogram(name, valueType, unit, description);

const stateEntered = counter('arbiter_task_state_entered', 'tasks that entered a state');
const ended = counter('arbiter_tasks_ended', 'tasks that reached an end state, by outcome');
const duration = histogram('arbiter_task_duration', 'float', 'seconds', 'from RECEIVED to the end state, by outcome');
const historyBytes = histogram('arbiter_workflow_history_size', 'int', 'bytes', "a task's history at its end");
const historyEvents = histogram('arbiter_workflow_history_events', 'int', '', "a task's history at its end");
const verdicts = counter('arbiter_verdicts', 'signed verdicts, by outcome');
const gates = counter('arbiter_gate_results', 'gate results, by kind and status');
const waiversRequested = counter('arbiter_waivers_requested', 'waivers a task waited for');
const waiversDecided = counter('arbiter_waivers_decided', 'waiver requests, by decision');
const routed = counter('arbiter_routing_decisions', 'tasks the router gave an agent');
const tokens = histogram('arbiter_task_tokens', 'int', '', "one task's model tokens, by agent");
const cost = histogram('arbiter_task_cost_usd', 'float', '', "one task's model cost, by agent");

/**
 * A submitted task, or one of a best-of-N task's candidates (child tasks of their own): kept
 * apart so that throughput, outcomes and verdict rates count what submitters asked for.
 */
export type TaskRole = 'task' | 'candidate';

/** What a task's end tells the metrics: its agent and usage, if it ran one. */
export interface TaskEnd {
  role: TaskRole;
  agentId?: string;
  usage: { tokens: number; costUsd: number };
}

/** Counts a transition into `state`; an end state also records the task's duration, history and usage. */
export function countTransition(state: TaskState, end: TaskEnd): void {
  const { role } = end;
  stateEntered().add(1, { state, role });
  if (!isTerminal(state)) return;
  const info = workflowInfo();
  ended().add(1, { outcome: state, role });
  duration().record(Math.max(0, Date.now() - info.startTime.getTime()) / 1000, { outcome: state, role });
  historyBytes().record(info.historySize);
  historyEvents().record(info.historyLength);
  if (end.usage.tokens > 0 || end.usage.costUsd > 0) {
    const agent = end.agentId ?? 'unknown';
    tokens().record(end.usage.tokens, { agent });
    cost().record(end.usage.costUsd, { agent });
  }
}

/** Counts a signed verdict. */
export function countVerdict(outcome: VerdictOutcome, role: TaskRole): void {
  verdicts().add(1, { verdict: outcome, role });
}

/** Counts gate results as they are judged (a waived gate counts again, as `waived`). */
export function countGates(
  results: readonly Pick<GateResult, 'kind' | 'status'>[],
  role: TaskRole,
  waived = false,
): void {
  for (const g of results) gates().add(1, { kind: g.kind, status: waived ? 'waived' : g.status, role });
}

/** Counts a waiver request opened for a human decision. */
export function countWaiverRequested(): void {
  waiversRequested().add(1);
}

/** Counts how a waiver request ended: approved, rejected, or expired with no decision. */
export function countWaiverDecided(decision: 'approved' | 'rejected' | 'expired'): void {
  waiversDecided().add(1, { decision });
}

/** Counts the router's choice of `agentId`. */
export function countRouting(agentId: string): void {
  routed().add(1, { agent: agentId });
}
