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
 * What every beat carries unless a step says more. The server hands an attempt's last beat's
 * details on to the timeout of every later attempt, so a step whose host was lost says by them
 * whether an attempt of it ran there (the workflow charges the agent only then).
 */
const RUNNING = 'running';

/** What the beats of an attempt carry once its step said more than that it runs ({@link beatAtStart}). */
const saidDetails = new WeakMap<Context, unknown>();

/**
 * Beats at once, for a step whose every attempt must be known to have run, however soon its host
 * dies: an agent's run, or one of its tool calls. `details` (else that it runs) are what every
 * later beat of this attempt carries, so the next attempt reads them in `info.heartbeatDetails`:
 * the first beat goes out at once, later ones only every few seconds, and a worker may die between.
 */
export function beatAtStart(details: unknown = RUNNING): void {
  const activity = Context.current();
  saidDetails.set(activity, details);
  if (!activity.info.isLocal) activity.heartbeat(details);
}

/**
 * Runs `work` while the activity heartbeats, handing it the activity's cancellation signal. A
 * local activity does not beat: the server knows only its workflow task.
 */
export async function withHeartbeat<T>(
  work: (signal: AbortSignal) => Promise<T>,
  details: unknown = RUNNING,
): Promise<T> {
  const activity = Context.current();
  const every = beatIntervalMs(activity.info.heartbeatTimeoutMs);
  const beat = activity.info.isLocal
    ? undefined
    : setInterval(() => activity.heartbeat(saidDetails.get(activity) ?? details), every);
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

/**
 * Why the current activity was cancelled: its workflow asked, the worker is shutting down, or
 * Temporal gave up on this attempt (failed, timed out, reset or paused by hand; it may have
 * started another). The reason travels as the cancellation's message; the details, where the
 * server sends them, say the same.
 */
export function cancellationCause(activity: Context): 'requested' | 'shutdown' | 'given-up' {
  const reason = (activity.cancellationSignal.reason as Error | undefined)?.message;
  const why = activity.cancellationDetails;
  if (why?.cancelRequested) return 'requested';
  if (why?.workerShutdown || reason === 'WORKER_SHUTDOWN') return 'shutdown';
  if (why?.notFound || why?.timedOut || why?.reset || why?.paused) return 'given-up';
  return reason && ['NOT_FOUND', 'TIMED_OUT', 'RESET', 'PAUSED'].includes(reason) ? 'given-up' : 'requested';
}

/** How often a given-up attempt's check asks whether its run has ended since. */
const RUN_ENDED_CHECK_MS = 10_000;

/**
 * `runCommand` for a check whose run must end in a result: killed when the activity's workflow
 * cancels it, its run has ended, or the worker shuts down. An attempt Temporal gave up on while
 * its run goes on (failed, timed out, reset or paused by hand) runs its command to the end, so
 * whoever stops every slow run of a check cannot keep trying it until it passes fast. A run that
 * ends cancels its activities without a word (they find themselves gone), so `runIsOpen` is asked
 * then and every 10 s after; when it cannot answer, the command runs on. `aborted` says it was killed.
 */
export function stoppedOnRequest(runCommand: CommandRunner, runIsOpen: () => Promise<boolean>): CancellableRunner {
  return (req) =>
    withHeartbeat(async (cancelled) => {
      const activity = Context.current();
      const stop = new AbortController();
      let watching: ReturnType<typeof setInterval> | undefined;
      const killIfRunEnded = async () => {
        if (!(await runIsOpen().catch(() => true))) stop.abort(cancelled.reason);
      };
      const onCancel = () => {
        if (cancellationCause(activity) !== 'given-up') return stop.abort(cancelled.reason);
        void killIfRunEnded();
        watching = setInterval(() => void killIfRunEnded(), RUN_ENDED_CHECK_MS);
      };
      if (cancelled.aborted) onCancel();
      else cancelled.addEventListener('abort', onCancel, { once: true });
      try {
        return await runCommand({ ...req, signal: stop.signal });
      } finally {
        clearInterval(watching);
      }
    });
}
