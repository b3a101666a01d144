/**
 * The typed refusals of domain/errors.ts are final. Each is built non-retryable; this keeps one
 * re-created without that flag (by hand, or by code that copies a failure's type and message)
 * final too, on the worker, for every activity and local activity alike. The same guard was a
 * list of 30 type names in every step's retry policy, which every scheduled activity then
 * carried through the server's history and state: about 25 ms of CPU a task (*Performance*).
 */
import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import { translateErrors, type Activity } from './wrap';

const FINAL_TYPES = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/** `err` made non-retryable when it is one of the typed refusals thrown retryable; else `err`. */
export function keepRefusalFinal(err: unknown): unknown {
  if (!(err instanceof ApplicationFailure) || err.nonRetryable || !FINAL_TYPES.has(err.type ?? '')) return err;
  return ApplicationFailure.create({
    message: err.message,
    type: err.type ?? undefined,
    details: err.details ? [...err.details] : undefined,
    nonRetryable: true,
    cause: err.cause instanceof Error ? err.cause : undefined,
  });
}

/** Wraps every activity of `activities` so a typed refusal is never retried. */
export function keepRefusalsFinal<T extends Record<string, Activity>>(activities: T): T {
  return translateErrors(activities, keepRefusalFinal);
}
