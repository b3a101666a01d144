/**
 * Laying one concern over every activity (heartbeats, error translation): one way to do it, so
 * no step is left out and no wrapper is written twice.
 */
import { ApplicationFailure } from '@temporalio/common';

/** An activity function, as the factory builds them. */
export type Activity = (...args: never[]) => Promise<unknown>;

/** `activities` with each function replaced by `wrap(fn, its name)`. */
export function wrapEach<T extends Record<string, Activity>>(
  activities: T,
  wrap: (fn: Activity, name: string) => Activity,
): T {
  return Object.fromEntries(Object.entries(activities).map(([name, fn]) => [name, wrap(fn, name)])) as T;
}

/** `activities` with every error they throw passed through `translate` first. */
export function translateErrors<T extends Record<string, Activity>>(
  activities: T,
  translate: (err: unknown) => unknown,
): T {
  return wrapEach(activities, (fn) => async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw translate(err);
    }
  });
}

/**
 * `err` as a failure of `type` that is retried as `retry` says, keeping its message, details,
 * cause and stack: for translations that change only how a failure is retried.
 */
export function retriedAs(
  err: Error,
  type: string | undefined,
  retry: { nonRetryable?: boolean; nextRetryDelay?: number },
): ApplicationFailure {
  const failure = ApplicationFailure.create({
    message: err.message,
    type,
    details: err instanceof ApplicationFailure && err.details ? [...err.details] : undefined,
    cause: err.cause instanceof Error ? err.cause : undefined,
    ...retry,
  });
  failure.stack = err.stack;
  return failure;
}
