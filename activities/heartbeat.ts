/**
 * Heartbeats are how a cancelled task reaches a running activity: while one beats, Temporal can
 * tell it the task was cancelled, and Temporal learns within the heartbeat timeout that its worker
 * is gone. Every step runs under {@link heartbeatFromStart}, so none forgets to beat; a command
 * runs under {@link cancellable}, so it stops when cancelled.
 */
import { Context } from '@temporalio/activity';
import type { CommandRequest, CommandResult, CommandRunner } from '../host/sandbox/commands';
import { wrapEach, type Activity } from './wrap';

/**
 * How often a step beats: a third of its heartbeat timeout, so one missed beat is not yet a
 * timeout. Not sooner: each beat the SDK sends is a write on the server, and a step that ends
 * before its first beat (most do) needs none.
 */
function beatIntervalMs(heartbeatTimeoutMs: number | undefined): number {
  return Math.max(1000, (heartbeatTimeoutMs ?? 3000) / 3);
}

/**
 * Runs `work` while the activity heartbeats, handing it the activity's cancellation signal. A
 * local activity does not beat: the server knows only its workflow task.
 */
export async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>, details?: unknown): Promise<T> {
  const activity = Context.current();
  const every = beatIntervalMs(activity.info.heartbeatTimeoutMs);
  const beat = activity.info.isLocal ? undefined : setInterval(() => activity.heartbeat(details), every);
  try {
    return await work(activity.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
}

/**
 * Wraps every activity of `activities` so it heartbeats from its first instant to its end,
 * whatever it does (a clone, a reset, a query): an attempt whose worker died, or whose task or
 * result a Temporal outage lost, is noticed within the step's heartbeat timeout, not at its
 * start-to-close timeout.
 */
export function heartbeatFromStart<T extends Record<string, Activity>>(activities: T): T {
  return wrapEach(
    activities,
    (fn) =>
      (...args) =>
        withHeartbeat(() => fn(...args)),
  );
}

/** A request to a {@link CancellableRunner}: the signal is the activity's own. */
export type CancellableRequest = Omit<CommandRequest, 'signal'>;

/** Runs a confined command for the current activity. */
export type CancellableRunner = (req: CancellableRequest) => Promise<CommandResult>;

/**
 * `runCommand` for the current activity: each run heartbeats while it lasts and is killed when
 * the activity is cancelled, and then the cancellation (not a half-finished result) is thrown.
 */
export function cancellable(runCommand: CommandRunner): CancellableRunner {
  return (req) =>
    withHeartbeat(async (signal) => {
      const run = await runCommand({ ...req, signal });
      if (run.aborted) throw signal.reason ?? new Error('cancelled');
      return run;
    });
}
