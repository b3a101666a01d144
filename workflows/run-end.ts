/**
 * How a task's run ends in Temporal. Before it returns, every update still being handled
 * finishes (none is cut off, none reports on a task that moved on without it). A cancelled task
 * ends its run Canceled, not Completed, so the Web UI and `ExecutionStatus="Canceled"` tell the
 * truth: Temporal's cancellation is rethrown, and the `cancel` signal asks the server for that
 * cancellation first (a workflow cannot cancel itself).
 */
import { CancellationScope, allHandlersFinished, condition, log } from '@temporalio/workflow';
import { hasPatch } from './patches';
import { flushSearchAttributes } from './visibility';
import { cancelOwnRun } from './activity-proxies';

/** Whether Temporal was asked to cancel this run, by a client or by the run itself for the cancel signal. */
export class RunCancellation {
  private requested = false;
  private selfRequest: Promise<boolean> | undefined;

  /** Create it in the workflow function itself: it watches the run's root scope. */
  constructor() {
    CancellationScope.current().cancelRequested.catch(() => {
      this.requested = true;
    });
  }

  /** The cancel signal's path: asks the server to cancel this run as well (runs started on this code). */
  requestForSignal(task: { tenantId: string; taskId: string }): void {
    if (!hasPatch('cancel-signal-cancels-run')) return;
    const { tenantId, taskId } = task;
    this.selfRequest = CancellationScope.nonCancellable(() => cancelOwnRun({ tenantId, taskId })).then(
      () => true,
      (err: Error) => {
        log.warn('run cancellation not requested; the run ends Completed', { error: err.message });
        return false;
      },
    );
  }

  /**
   * Ends the run once every handler has finished: returns `result`, or rethrows `cancelled` (the
   * task was cancelled) once Temporal's cancellation of the run has arrived, so the run ends Canceled.
   */
  async end<T>(result: T, cancelled: unknown): Promise<T> {
    flushSearchAttributes(); // what the task shows while the run waits below for handlers or the server's cancellation
    if (hasPatch('run-waits-for-handlers'))
      await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
    if (cancelled === undefined) return result;
    const byServer = this.requested || (this.selfRequest !== undefined && (await this.selfRequest));
    if (!byServer || !hasPatch('cancelled-run-ends-cancelled')) return result;
    await CancellationScope.nonCancellable(() => condition(() => this.requested));
    throw cancelled;
  }
}
