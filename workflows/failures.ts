/** Turns whatever ended a step into the task's error: typed, readable, naming the activity. */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  ChildWorkflowFailure,
  isCancellation,
  TimeoutFailure,
} from '@temporalio/workflow';
import { hasOwnPatch } from './patches';
import { PolicyViolationError, SpecInvalidError } from '../domain/errors';
import { boundedProblems, boundedViolation, clipText } from '../domain/bounds';
import type { PolicyViolation } from '../domain/sandbox';
import type { TaskError } from '../domain/task';

/** Longest failure message a task keeps: a git error can quote thousands of agent-chosen paths. */
const MAX_MESSAGE = 2000;

/**
 * Keeps a spec's problem list; names the activity and timeout kind for infrastructure failures.
 * Everything kept is clipped: the error stays in the snapshot, the history note and the result.
 */
export function describeFailure(err: unknown): TaskError {
  if (err instanceof ChildWorkflowFailure && err.cause instanceof CancelledFailure)
    return { type: 'ChildRunCancelled', message: `${err.execution.workflowId} was cancelled outside its task` };
  if (err instanceof ChildWorkflowFailure && err.cause) return describeFailure(err.cause);
  const activity = err instanceof ActivityFailure ? err.activityType : undefined;
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const listed = cause.type === SpecInvalidError.type ? cause.details?.[0] : undefined;
    const problems = Array.isArray(listed) ? boundedProblems(listed) : undefined;
    const refused = cause.type === PolicyViolationError.type ? cause.details?.[0] : undefined;
    const violation = refused && typeof refused === 'object' ? boundedViolation(refused as PolicyViolation) : undefined;
    return {
      type: clipText(cause.type ?? 'ApplicationFailure', 100),
      message: clipText(cause.message, MAX_MESSAGE),
      ...(problems ? { problems } : {}),
      ...(violation ? { violation } : {}),
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { type: 'ActivityTimeout', message: `${activity ?? 'activity'} timed out (${cause.timeoutType})` };
  }
  const message = clipText(cause instanceof Error ? cause.message : String(cause), MAX_MESSAGE);
  return { type: 'Error', message: activity ? `${activity} failed: ${message}` : message };
}

/**
 * True when `err` cancels the task: the task's own cancellation (its cancel signal or update, or
 * the server's cancellation of its run). A child run cancelled by itself (`temporal workflow cancel`
 * on a conversation or a candidate) is that child's end, a failure of the step that ran it: before
 * the patch it cancelled the whole task, which then showed CANCELLED in a run that ended Completed.
 */
export function cancelsTask(err: unknown): boolean {
  if (!isCancellation(err)) return false;
  return CancellationScope.current().consideredCancelled || !hasOwnPatch('child-cancel-fails-its-step');
}
