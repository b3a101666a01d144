/** Turns whatever ended a step into the task's error: typed, readable, naming the activity. */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';
import { PolicyViolationError, SpecInvalidError } from '../domain/errors';
import type { PolicyViolation } from '../domain/sandbox';
import type { TaskError } from '../domain/task';

/** Keeps a spec's problem list; names the activity and timeout kind for infrastructure failures. */
export function describeFailure(err: unknown): TaskError {
  if (err instanceof ChildWorkflowFailure && err.cause) return describeFailure(err.cause);
  const activity = err instanceof ActivityFailure ? err.activityType : undefined;
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const problems = cause.type === SpecInvalidError.type ? (cause.details?.[0] as string[] | undefined) : undefined;
    const violation =
      cause.type === PolicyViolationError.type ? (cause.details?.[0] as PolicyViolation | undefined) : undefined;
    return {
      type: cause.type ?? 'ApplicationFailure',
      message: cause.message,
      ...(problems ? { problems } : {}),
      ...(violation ? { violation } : {}),
    };
  }
  if (cause instanceof TimeoutFailure) {
    return { type: 'ActivityTimeout', message: `${activity ?? 'activity'} timed out (${cause.timeoutType})` };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return { type: 'Error', message: activity ? `${activity} failed: ${message}` : message };
}
