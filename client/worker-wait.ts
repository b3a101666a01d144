/**
 * A query of a task is answered by a worker, and the server gives up on it when none takes it:
 * every worker is down, or the one that held the task died. A watcher waits through such a gap as
 * it waits for anything else, rather than failing; a task that has ended needs no worker, since
 * its result is in history.
 */
import { isGrpcServiceError, ServiceError, type WorkflowHandle } from '@temporalio/client';
import type { TaskSnapshot } from '../domain/task';

const DEADLINE_EXCEEDED = 4;
const FAILED_PRECONDITION = 9;

/**
 * Whether `err` is the server giving up on a query no worker took: refused for want of a poller
 * seen lately, or timed out while a poller was seen (one just killed still counts a while).
 */
export function isUnansweredQuery(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(cause)) return false;
  if (cause.code === FAILED_PRECONDITION) return /no poller seen/.test(cause.details);
  return cause.code === DEADLINE_EXCEEDED && /before a worker could process it/.test(cause.details);
}

/**
 * Whether `err` is the server dropping an update because the workflow task it rode on failed (a
 * worker lost it, or it timed out under load): the task is retried and goes on, so a watcher waiting
 * on it reads the state again rather than failing (a watch under load failed so).
 */
export function isUpdateDroppedByTaskFailure(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return (
    isGrpcServiceError(cause) &&
    cause.code === FAILED_PRECONDITION &&
    /unexpected workflow task failure/.test(cause.details)
  );
}

/**
 * `read()`, while no worker answers it: the run's result once it has closed, else `read()` again
 * `pauseMs` later. `onWaiting` is told once, when the first read goes unanswered, so a person
 * watching knows why nothing moves.
 */
export async function onceWorkerPolls(
  handle: WorkflowHandle,
  read: () => Promise<TaskSnapshot>,
  pauseMs: number,
  onWaiting: () => void = () => undefined,
): Promise<TaskSnapshot> {
  for (let told = false; ; told = true) {
    try {
      return await read();
    } catch (err) {
      if (!isUnansweredQuery(err)) throw err;
    }
    if (!told) onWaiting();
    if ((await handle.describe()).status.name !== 'RUNNING') return (await handle.result()) as TaskSnapshot;
    await new Promise((r) => setTimeout(r, pauseMs));
  }
}
