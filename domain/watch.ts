/**
 * Watching a task without polling: the `awaitTransition` update waits in the workflow for the
 * next transition and returns the snapshot. Each accepted update is two history events carrying
 * a snapshot, so the workflow takes at most {@link MAX_WATCHERS} waiting at once and refuses
 * (before anything is recorded) requests that would return at once: bounded history cost.
 */
import { z } from 'zod';

/** Waiting watchers one task takes at once; below the server's 10 in-flight updates, so waiver decisions still fit. */
export const MAX_WATCHERS = 5;

/** Input of `awaitTransition`: the history length the watcher has seen; it wants the next one. */
export const AwaitTransitionInputSchema = z
  .object({
    /** The watcher has seen `afterSeq` transitions; the update returns once there are more (or the task ended). */
    afterSeq: z.number().int().min(0).max(100_000),
  })
  .strict();

/** The parsed input of `awaitTransition`. */
export type AwaitTransitionInput = z.infer<typeof AwaitTransitionInputSchema>;
