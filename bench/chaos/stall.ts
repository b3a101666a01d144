/**
 * The chaos run's stall figure: how long a task in flight when a fault ended waited for its next
 * transition, counting only time when no fault was under way, so a later fault's own outage is
 * not charged to the one before it (that outage is measured from its own recovery instead). A
 * task is in flight from its submission, so one stuck before its first database row counts too.
 */
import { isTerminal, type TaskState } from '../../domain/lifecycle';
import type { InjectedFault } from './faults';

/** One recorded transition of a task: the state entered and when the database stored it (ms). */
export interface Transition {
  toState: string;
  at: number;
}

/** One task as the stall sees it: when the load submitted it, then its transitions in order. */
export interface TaskTimeline {
  submittedAt: number;
  transitions: Transition[];
}

/** The longest stall: how long, which task, after which fault, in which state it waited. */
export interface Stall {
  ms: number;
  task?: string;
  fault?: string;
  state?: string;
}

/** The state a submitted task waits in before the database has any row of it. */
export const SUBMITTED = 'SUBMITTED (no row yet)';

/** The part of [from, to) when none of `faults` was under way. */
export function faultFreeMs(from: number, to: number, faults: InjectedFault[]): number {
  let ms = to - from;
  for (const f of faults) ms -= Math.max(0, Math.min(to, f.recoveredAt) - Math.max(from, f.at));
  return ms;
}

/** One task's wait after `fault`, or undefined when it was not in flight at the fault's recovery. */
function waitAfter(task: TaskTimeline, fault: InjectedFault, endedAt: number) {
  const points = [{ toState: SUBMITTED, at: task.submittedAt }, ...task.transitions];
  const last = points[points.length - 1];
  const ended = isTerminal(last.toState as TaskState) ? last.at : Infinity;
  if (task.submittedAt > fault.recoveredAt || ended <= fault.recoveredAt) return undefined;
  const next = points.findIndex((t) => t.at > fault.recoveredAt);
  const waiting = points[(next < 0 ? points.length : next) - 1];
  return { until: next < 0 ? endedAt : points[next].at, state: waiting.toState };
}

/**
 * For each fault, each task in flight when it was over (submitted, not yet ended): the fault-free
 * wait until that task's next transition (`endedAt` if none). Transitions are in order.
 */
export function longestStall(byTask: Map<string, TaskTimeline>, faults: InjectedFault[], endedAt: number): Stall {
  let worst: Stall = { ms: 0 };
  for (const fault of faults) {
    for (const [task, timeline] of byTask) {
      const wait = waitAfter(timeline, fault, endedAt);
      if (!wait) continue;
      const ms = faultFreeMs(fault.recoveredAt, wait.until, faults);
      if (ms > worst.ms) worst = { ms, task, fault: `${fault.kind} (${fault.detail})`, state: wait.state };
    }
  }
  return worst;
}
