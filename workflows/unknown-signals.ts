/**
 * Signals a run cannot act on. A signal without a handler: the SDK keeps each one, payload and
 * all, in the run's memory until a handler for its name appears, and keeps it again on every
 * replay, so anyone with write access to the namespace could fill the worker's workflow heap with
 * a few 2 MB signals to a few waiting runs. Every handler a run has is set when it starts, so a
 * signal without one never finds one later: it is logged, by name, and dropped. A signal whose
 * payload cannot be decoded (an encoding no converter reads, JSON that does not parse): the SDK
 * decodes it before any handler runs and fails the workflow task, which retries forever on the
 * same signal, so the run never ends and holds its agent's capacity; it is dropped before that,
 * as is a signal under a name the SDK reserves, which it refuses the same way.
 */
import { arrayFromPayloads, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { log, setDefaultSignalHandler, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { clipText } from '../domain/bounds';

/** Drops every signal the run has no handler for; call it after the run's own handlers are set. */
export function dropUnknownSignals(): void {
  setDefaultSignalHandler((signalName: string) => {
    log.warn('signal with no handler ignored', { signal: clipText(signalName, 200) });
  });
}

function decodes(payloads: Payload[] | null | undefined): boolean {
  try {
    arrayFromPayloads(defaultPayloadConverter, payloads ?? []);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the SDK can hand the signal to a handler: its payload decodes, and its name is not one
 * the SDK reserves (`__temporal_…`), which it refuses, failing the task, when no handler takes it.
 */
function actionable(signal: { signalName?: string | null; input?: unknown }): boolean {
  return !String(signal.signalName).startsWith('__temporal_') && decodes(signal.input as Payload[]);
}

/** Takes signals no handler could be given out of each activation, before the SDK decodes them. */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      activate(input, next) {
        const jobs = input.activation.jobs ?? [];
        const kept = jobs.filter((job) => !job.signalWorkflow || actionable(job.signalWorkflow));
        if (kept.length < jobs.length) {
          for (const job of jobs.filter((j) => !kept.includes(j)))
            log.warn('signal no handler could be given ignored', {
              signal: clipText(String(job.signalWorkflow?.signalName), 200),
            });
          input.activation.jobs = kept;
        }
        return next(input);
      },
    },
  ],
});
