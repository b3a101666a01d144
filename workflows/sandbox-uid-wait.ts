/**
 * When every sandbox uid on the host is leased, a task waits its turn on a workflow timer —
 * holding no worker slot, however many tasks wait — instead of retrying `prepareWorkspace` until
 * its attempts run out and failing only because too many tasks were in flight at once.
 */
import { ActivityFailure, ApplicationFailure, log, sleep } from '@temporalio/workflow';
import { hasPatch } from './patches';
import { SandboxUidsExhaustedError } from '../domain/errors';

/** Runs since this patch wait for a free uid; earlier ones retried the activity (see README, "Changing the workflow safely"). */
export const WAIT_FOR_SANDBOX_UID_PATCH = 'wait-for-sandbox-uid';

const FIRST_WAIT_SECONDS = 5;
const LONGEST_WAIT_SECONDS = 60;
/**
 * How long a task waits in all before it fails with the error: a host whose uids never free up
 * is a fault to see, and a wait without end would grow the run's history (about 11 events a
 * minute) toward the server's limit, which terminates the run without releasing anything.
 */
const MOST_WAITING_MS = 6 * 3_600_000;

function uidsExhausted(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    err.cause instanceof ApplicationFailure &&
    err.cause.type === SandboxUidsExhaustedError.type
  );
}

/** `prepare()`, tried again after a growing wait while every sandbox uid is taken, for at most six hours. */
export async function whenSandboxUidFree<T>(prepare: () => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + MOST_WAITING_MS;
  for (let wait = FIRST_WAIT_SECONDS; ; wait = Math.min(wait * 2, LONGEST_WAIT_SECONDS)) {
    try {
      return await prepare();
    } catch (err) {
      if (!uidsExhausted(err) || Date.now() >= giveUpAt || !hasPatch(WAIT_FOR_SANDBOX_UID_PATCH)) throw err;
      log.info('every sandbox uid is leased; waiting for a task to release one', { waitSeconds: wait });
      await sleep(`${wait}s`);
    }
  }
}
