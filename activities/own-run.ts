/**
 * Steps about the task's own run. A cancel asked for by the `cancel` signal becomes Temporal's own
 * cancellation of the run, so a cancelled task's run ends Canceled in the Web UI and in
 * `ExecutionStatus="Canceled"` queries; a workflow cannot request its own cancellation, so an
 * activity asks the server for it. And a name built from the run's id is written into history
 * once, so a run reset past the point that built it replays the name the replaced run gave.
 */
import { Context, log } from '@temporalio/activity';
import { OwnRunInput } from '../domain/activity-io';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';

/** Builds `cancelOwnRun` and `recordRunId`. */
export function createOwnRunActivities() {
  return {
    /** Requests cancellation of the run that scheduled it (from the activity's context, never its input). */
    async cancelOwnRun(raw: OwnRunInput): Promise<void> {
      const input = parseActivityInput(OwnRunInput, raw);
      const { workflowId, runId } = currentRun();
      await Context.current().client.workflow.getHandle(workflowId, runId).cancel();
      log.info('run cancellation requested for the cancel signal', { taskId: input.taskId, runId });
    },

    /**
     * The id of the run that scheduled it. Run as a local activity, its result is a marker in
     * history: replayed by a reset run, it still names the run that first got here, where
     * `workflowInfo().runId` names the one replaying.
     */
    async recordRunId(raw: OwnRunInput): Promise<{ runId: string }> {
      parseActivityInput(OwnRunInput, raw);
      return { runId: currentRun().runId };
    },
  };
}
