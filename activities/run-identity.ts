/**
 * The Temporal run an activity works for, as the server reports it. Taken from the activity's
 * context, never from its input: a workflow started by hand cannot claim another run's records.
 */
import { Context } from '@temporalio/activity';
import type { RunIdentity } from '../domain/verdict';

/** The workflow id and run id of the run that scheduled the current activity. */
export function currentRun(): RunIdentity {
  const execution = Context.current().info.workflowExecution;
  if (!execution) throw new Error('this activity records per run and must be scheduled by a workflow');
  return { workflowId: execution.workflowId, runId: execution.runId };
}
