/**
 * The task's search attributes, written once per workflow task. Each upsert is a history event and
 * a visibility write on the server; one per transition made eleven a task, most of them between
 * local activities of one workflow task, where no one could see them before the next. So what the
 * task shows is staged and written in one upsert when the run next waits on the server (an
 * activity, a timer, a child workflow, continue-as-new) and when it ends: at every point where its
 * workflow task can close, visibility says what it would have said. A run recorded before release
 * 7 upserts at once, as it did then.
 */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { upsertSearchAttributes, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { hasPatch, RELEASE_7_PATCH } from './patches';

/** What the run will show at its next wait, by attribute name: a later value replaces an earlier one. */
const staged = new Map<string, SearchAttributeUpdatePair>();
/** Set by {@link interceptors} for this run: without them nothing staged would be written. */
let flushedByInterceptors = false;

/** Shows `pairs` in visibility: at the run's next wait on the server, or at once for a run recorded before release 7. */
export function showSearchAttributes(pairs: SearchAttributeUpdatePair[]): void {
  if (!hasPatch(RELEASE_7_PATCH)) return upsertSearchAttributes(pairs);
  if (!flushedByInterceptors)
    throw new Error("workflows/visibility.ts is not among the bundle's workflow interceptor modules");
  for (const pair of pairs) staged.set(pair.key.name, pair);
}

/** Writes what is staged, in one upsert. */
export function flushSearchAttributes(): void {
  if (staged.size === 0) return;
  const pairs = [...staged.values()];
  staged.clear();
  upsertSearchAttributes(pairs);
}

/**
 * The interceptors that flush: before a remote activity, a timer, a child workflow or
 * continue-as-new (a local activity runs inside the same workflow task), and when the run returns or throws.
 */
export const interceptors: WorkflowInterceptorsFactory = () => {
  flushedByInterceptors = true;
  return {
    outbound: [
      {
        scheduleActivity: (input, next) => (flushSearchAttributes(), next(input)),
        startTimer: (input, next) => (flushSearchAttributes(), next(input)),
        startChildWorkflowExecution: (input, next) => (flushSearchAttributes(), next(input)),
        continueAsNew: (input, next) => (flushSearchAttributes(), next(input)),
      },
    ],
    inbound: [
      {
        async execute(input, next) {
          try {
            return await next(input);
          } finally {
            flushSearchAttributes();
          }
        },
      },
    ],
  };
};
