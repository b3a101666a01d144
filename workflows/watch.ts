/**
 * The `awaitTransition` handler: a watcher waits here for the task's next transition instead
 * of polling `getState`. The validator refuses, before anything reaches history, every request
 * that would return at once or exceed the watcher slots, so accepted updates per run are at most
 * MAX_WATCHERS per transition; every waiting handler returns when the task ends, so a run that
 * waits for its handlers to finish never hangs on a watcher.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { TooManyWatchersError, WatchBehindError, WatchEndedError } from '../domain/errors';
import { AwaitTransitionInputSchema, MAX_WATCHERS } from '../domain/watch';
import { zodProblems } from '../domain/zod-issues';
import { awaitTransitionUpdate } from './definitions';
import type { TaskRun } from './task-run';
import { oneArgument } from './update-arguments';

/** Registers `awaitTransition` for `task`. */
export function registerWatch(task: TaskRun): void {
  let waiting = 0;
  const seen = () => task.snapshot.history.length;
  setHandler(
    awaitTransitionUpdate,
    async ({ afterSeq }) => {
      waiting++;
      try {
        await condition(() => seen() > afterSeq || task.terminal);
      } finally {
        waiting--;
      }
      return task.snapshot;
    },
    {
      validator: oneArgument((input) => {
        const parsed = AwaitTransitionInputSchema.safeParse(input);
        if (!parsed.success) throw new Error(zodProblems(parsed.error).join('; '));
        if (task.terminal) throw new WatchEndedError(task.state);
        if (parsed.data.afterSeq < seen()) throw new WatchBehindError(parsed.data.afterSeq, seen());
        if (waiting >= MAX_WATCHERS) throw new TooManyWatchersError(MAX_WATCHERS);
      }),
    },
  );
}
