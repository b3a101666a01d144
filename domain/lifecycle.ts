/**
 * The task lifecycle from DESIGN.md as data, so the workflow, the CLI and the tests agree on
 * exactly which transitions exist and an illegal one is caught at the point it is attempted.
 */

/** The states a task that completes passes through, in order. */
export const HAPPY_PATH = [
  'RECEIVED',
  'VALIDATING_SPEC',
  'SPEC_APPROVED',
  'ROUTING',
  'ROUTED',
  'EXECUTING',
  'EXECUTION_COMPLETE',
  'VERIFYING',
  'VERIFIED',
  'COMPLETED',
] as const;

/** Every lifecycle state, in the order of the happy path, then the terminal failures. */
export const TASK_STATES = [...HAPPY_PATH, 'REJECTED', 'FAILED', 'CANCELLED'] as const;

/** A lifecycle state name. */
export type TaskState = (typeof TASK_STATES)[number];

/** States a task never leaves; reaching one ends the workflow. */
export const TERMINAL_STATES: readonly TaskState[] = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * Every step between RECEIVED and COMPLETED may fail except SPEC_APPROVED, where nothing runs;
 * VALIDATING_SPEC too: when infrastructure (not the submitter's input) stopped validation.
 */
const MAY_FAIL: readonly TaskState[] = HAPPY_PATH.slice(1, -1).filter((s) => s !== 'SPEC_APPROVED');

/** True once the task can no longer change. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The states reachable from `from` in one step. */
export function nextStates(from: TaskState): TaskState[] {
  if (isTerminal(from)) return [];
  const next: TaskState[] = [];
  const i = (HAPPY_PATH as readonly TaskState[]).indexOf(from);
  if (i >= 0 && i + 1 < HAPPY_PATH.length) next.push(HAPPY_PATH[i + 1]);
  if (from === 'VALIDATING_SPEC') next.push('REJECTED');
  // A change that failed blocking gates goes back to its agent, with the evidence, while attempts remain.
  if (from === 'VERIFYING') next.push('EXECUTING');
  if (MAY_FAIL.includes(from)) next.push('FAILED');
  next.push('CANCELLED');
  return next;
}

/** Thrown by code that tries a transition the design does not allow: a bug, never input. */
export class IllegalTransitionError extends Error {
  constructor(
    public readonly from: TaskState,
    public readonly to: TaskState,
  ) {
    super(`illegal lifecycle transition ${from} -> ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

/** Guards every transition the workflow makes. */
export function assertTransition(from: TaskState, to: TaskState): void {
  if (!nextStates(from).includes(to)) throw new IllegalTransitionError(from, to);
}
