/**
 * Updates take one argument. Anyone with namespace access may send more, and a validator that
 * looks only at the first accepts them all: the accepted update's event stores every argument in
 * history, and a handler that waits (a watcher, for hours) holds them in the worker's memory, so
 * five updates of 2 MB each took a run to its history limit in a few transitions.
 */
import { ApplicationFailure } from '@temporalio/workflow';

/** `validate`, refusing a call with any other number of arguments than one. */
export function oneArgument<T>(validate: (input: T) => void): (input: T) => void {
  return function (this: unknown, ...args: unknown[]): void {
    if (args.length !== 1)
      throw ApplicationFailure.nonRetryable(`takes exactly one argument, not ${args.length}`, 'UpdateArgumentsError');
    validate(args[0] as T);
  } as (input: T) => void;
}
