/**
 * The typed refusals of domain/errors.ts are final. Each is built non-retryable; this keeps one
 * re-created without that flag (by hand, or by code that copies a failure's type and message),
 * or a plain error class named like one (the SDK takes such an error's class name as its type),
 * final too, on the worker, for every activity and local activity alike. The same guard was a
 * list of 30 type names in every step's retry policy, which every scheduled activity then
 * carried through the server's history and state: about 25 ms of CPU a task (bench/PERFORMANCE.md, tenth round).
 */
import { ApplicationFailure } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';
import { retriedAs, translateErrors, type Activity } from './wrap';

const FINAL_TYPES = new Set<string>(NON_RETRYABLE_ERROR_TYPES);

/** The failure type the SDK reports for `err`: an ApplicationFailure's own, else the class name. */
function failureType(err: Error): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : err.constructor?.name;
}

/** `err` made non-retryable when it is one of the typed refusals thrown retryable; else `err`. */
export function keepRefusalFinal(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const type = failureType(err);
  if (!type || !FINAL_TYPES.has(type) || (err instanceof ApplicationFailure && err.nonRetryable)) return err;
  return retriedAs(err, type, { nonRetryable: true });
}

/** Wraps every activity of `activities` so a typed refusal is never retried. */
export function keepRefusalsFinal<T extends Record<string, Activity>>(activities: T): T {
  return translateErrors(activities, keepRefusalFinal);
}
