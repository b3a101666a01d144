/**
 * A cancel asked for by the `cancel` signal becomes Temporal's own cancellation of the run, so a
 * cancelled task's run ends Canceled in the Web UI and in `ExecutionStatus="Canceled"` queries.
 * A workflow cannot request its own cancellation, so this activity asks the server for it.
 */
import { Context, log } from '@temporalio/activity';
import { CancelOwnRunInput } from '../domain/activity-io';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';

/** Builds `cancelOwnRun`. */
export function createRunCancelActivities() {
  return {
    /** Requests cancellation of the run that scheduled it (from the activity's context, never its input). */
    async cancelOwnRun(raw: CancelOwnRunInput): Promise<void> {
      const input = parseActivityInput(CancelOwnRunInput, raw);
      const { workflowId, runId } = currentRun();
      await Context.current().client.workflow.getHandle(workflowId, runId).cancel();
      log.info('run cancellation requested for the cancel signal', { taskId: input.taskId, runId });
    },
  };
}
