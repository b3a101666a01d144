/**
 * Signals a run has no handler for. The SDK keeps each one, payload and all, in the run's memory
 * until a handler for its name appears, and keeps it again on every replay: anyone with write
 * access to the namespace could fill the worker's workflow heap with a few 2 MB signals to a few
 * waiting runs. Every handler a run has is set when it starts, so a signal without one never
 * finds one later: it is logged, by name, and dropped.
 */
import { log, setDefaultSignalHandler } from '@temporalio/workflow';
import { clipText } from '../domain/bounds';

/** Drops every signal the run has no handler for; call it after the run's own handlers are set. */
export function dropUnknownSignals(): void {
  setDefaultSignalHandler((signalName: string) => {
    log.warn('signal with no handler ignored', { signal: clipText(signalName, 200) });
  });
}
