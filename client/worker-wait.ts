/**
 * A query of a running task is answered by a worker, and the server refuses it once no worker
 * has polled the task's queue for a while: every worker is down, or the one that held the task
 * died. A watcher waits through such a gap as it waits for anything else, rather than failing.
 */
import { isGrpcServiceError, ServiceError } from '@temporalio/client';

const FAILED_PRECONDITION = 9;

/** Whether `err` is the server's refusal of a query for want of a worker polling the task's queue. */
export function isNoWorkerPolling(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && cause.code === FAILED_PRECONDITION && /no poller seen/.test(cause.details);
}

/** `read()`, tried again `pauseMs` later for as long as it is refused because no worker polls. */
export async function onceWorkerPolls<T>(read: () => Promise<T>, pauseMs: number): Promise<T> {
  for (;;) {
    try {
      return await read();
    } catch (err) {
      if (!isNoWorkerPolling(err)) throw err;
    }
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}
