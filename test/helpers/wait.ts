/** Polling helpers for conditions that become true asynchronously (visibility, state changes). */
import { and, asc, eq } from 'drizzle-orm';
import { taskEvents } from '../../db/schema';
import type { TaskSnapshot } from '../../domain/task';
import type { TaskRef } from '../../temporal-config';
import { testStack } from './stack';

/** Resolves with the first truthy value of `probe`, or rejects after `timeoutMs` naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Waits until the task's snapshot satisfies `predicate`. */
export function waitForState(
  ref: TaskRef,
  predicate: (s: TaskSnapshot) => boolean,
  timeoutMs = 30_000,
): Promise<TaskSnapshot> {
  return waitFor(
    `task ${ref.tenantId}/${ref.taskId}`,
    async () => {
      const s = await testStack().client.status(ref);
      return predicate(s) ? s : undefined;
    },
    timeoutMs,
  );
}

/** The task's persisted events in order. */
export async function persistedEvents(ref: TaskRef) {
  return testStack()
    .database.db.select()
    .from(taskEvents)
    .where(and(eq(taskEvents.tenantId, ref.tenantId), eq(taskEvents.taskId, ref.taskId)))
    .orderBy(asc(taskEvents.seq));
}
