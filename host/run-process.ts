/**
 * Runs one program for a task through the spawner process (host/spawner.ts), so starting it never
 * forks the large worker, and stops it promptly when the caller's AbortSignal fires (task
 * cancelled, worker shutting down) or its watchdog finds a reason (the workspace outgrew its quota).
 */
import type { ProgramOptions, RunProcessResult } from './process';
import { startViaHelper } from './spawner';

/** The program, and what may stop it early besides its own limits. */
export interface RunProcessOptions extends ProgramOptions {
  signal?: AbortSignal;
  /** Polled while the program runs; a returned reason kills it. */
  watchdog?: { intervalMs: number; check: () => Promise<string | undefined> };
}

export type { RunProcessResult } from './process';

/** Spawns, waits and reports; never throws for a failing program (that is a result, not an error). */
export async function runProcess(options: RunProcessOptions): Promise<RunProcessResult> {
  const { signal, watchdog, ...program } = options;
  const running = startViaHelper(program);
  const onAbort = () => running.kill('cancelled', true);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  let checking = false; // a check slower than the interval (a huge workspace) is not started again meanwhile
  const watching = watchdog
    ? setInterval(() => {
        if (checking) return;
        checking = true;
        void watchdog
          .check()
          .then(
            (reason) => reason && running.kill(reason, false),
            () => undefined,
          )
          .finally(() => (checking = false));
      }, watchdog.intervalMs)
    : undefined;
  try {
    return await running.done;
  } finally {
    clearInterval(watching);
    signal?.removeEventListener('abort', onAbort);
  }
}
