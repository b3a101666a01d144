/**
 * Persists lifecycle transitions and guards the task row: a task id runs once. Events are keyed
 * on `(tenant, task, run, seq)`, so a retried activity or a replayed workflow writes each event
 * exactly once. The run comes from the activity's context, never from input: a run under another
 * workflow id is refused, a task that ended refuses every other run, and a run may take over
 * only a task whose previous run never ended (it was reset or terminated mid-flight).
 */
import { log } from '@temporalio/activity';
import { RecordTransitionInput } from '../domain/activity-io';
import { TaskAlreadyEndedError, WorkflowIdMismatchError } from '../domain/errors';
import { isTerminal } from '../domain/lifecycle';
import { recordRunEvent } from '../db/provenance';
import { recordTaskTransition } from '../db/task-transitions';
import { taskWorkflowId } from '../temporal-config';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';

/** Builds the `recordTransition` activity. */
export function createTransitionActivities({ db }: ActivityDeps) {
  return {
    async recordTransition(raw: RecordTransitionInput): Promise<void> {
      const input = parseActivityInput(RecordTransitionInput, raw);
      const run = currentRun();
      const expected = taskWorkflowId(input);
      if (run.workflowId !== expected) throw new WorkflowIdMismatchError(run.workflowId, expected);
      const columns = Object.fromEntries(Object.entries(input.task).filter(([, v]) => v !== undefined));
      const { tenantId, taskId, seq, from, to, note } = input;
      const result = await recordTaskTransition(db, {
        ...{ tenantId, taskId, seq, from, to, note, columns },
        ...{ workflowId: run.workflowId, runId: run.runId, at: new Date(input.at) },
      });
      if (result.outcome === 'ended')
        throw new TaskAlreadyEndedError(
          `${tenantId}/${taskId}`,
          result.previousState as string,
          result.previousRunId ?? '',
        );
      if (result.outcome === 'raced')
        throw new Error('the task row was created by another transaction meanwhile; retrying');
      if (result.outcome === 'taken-over')
        log.warn('run takes over a task its previous run left unfinished', {
          previousRunId: result.previousRunId,
          state: result.previousState,
        });
      if (input.to === 'RECEIVED' || isTerminal(input.to)) {
        const kind = input.to === 'RECEIVED' ? 'task.submitted' : `task.${input.to.toLowerCase()}`;
        const payload = { workflowId: run.workflowId, runId: run.runId, at: input.at, ...columns };
        await recordRunEvent(db, { ...input, runId: run.runId }, kind, kind, payload);
      }
      log.info('task transition recorded', { seq: input.seq, from: input.from, to: input.to });
    },
  };
}
