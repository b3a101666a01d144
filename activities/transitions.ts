/**
 * Persists lifecycle transitions and guards the task row: a task id runs once. Events are keyed
 * on `(tenant, task, run, seq)`, so a retried activity or a replayed workflow writes each event
 * exactly once. The run comes from the activity's context, never from input: a run under another
 * workflow id is refused, a task that ended refuses every other run, and a run may take over
 * only a task whose previous run never ended (it was reset or terminated mid-flight).
 */
import { log } from '@temporalio/activity';
import { RecordTransitionInput } from '../domain/activity-io';
import { RecordMismatchError, TaskAlreadyEndedError, WorkflowIdMismatchError } from '../domain/errors';
import { isCandidateTaskId } from '../domain/candidates';
import { printable } from '../domain/printable';
import type { Db } from '../db/client';
import { deliveryRecorded } from '../db/deliveries';
import { taskRowOf } from '../db/tasks';
import { storedVerdict } from '../db/verdicts';
import { isTerminal } from '../domain/lifecycle';
import { recordRunEvent } from '../db/provenance';
import { recordTaskTransition } from '../db/task-transitions';
import { taskWorkflowId } from '../temporal-config';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';
import { refuseEndedUnderAnotherRun } from './task-ended';

/**
 * What a transition states beyond its state is on record: a verdict outcome is this run's stored
 * verdict's (VERIFIED and COMPLETED state one, a PASS or WAIVED), and COMPLETED, but for a
 * candidate (which delivers nothing), follows this run's recorded delivery. An insider's own
 * workflow code recorded RECEIVED → COMPLETED with verdict PASS for a task that never ran, written
 * into the tenant's provenance chain as `task.completed` (found in review).
 */
async function requireRecordBehind(db: Db, input: RecordTransitionInput, runId: string): Promise<void> {
  const { tenantId, taskId, to } = input;
  const stated = input.task?.verdict;
  if (stated === undefined && to !== 'VERIFIED' && to !== 'COMPLETED') return;
  const stored = await storedVerdict(db, tenantId, taskId, runId);
  const passing = stored?.outcome === 'PASS' || stored?.outcome === 'WAIVED';
  if (!stored || stored.outcome !== stated || (to === 'FAILED' ? stated !== 'FAIL' : !passing)) {
    // A run reset after its task ended is told so, as the transition itself would tell it.
    refuseEndedUnderAnotherRun(input, await taskRowOf(db, input), runId);
    throw new RecordMismatchError(
      'verdict',
      `${to} stating verdict ${printable(String(stated))}: run ${runId} of ${tenantId}/${taskId} has ${stored ? `a ${stored.outcome}` : 'none'}`,
    );
  }
  if (
    to === 'COMPLETED' &&
    !isCandidateTaskId(taskId) &&
    !(await deliveryRecorded(db, input, runId, {}, { byKey: true }))
  )
    throw new RecordMismatchError('delivery', `COMPLETED: run ${runId} of ${tenantId}/${taskId} recorded no delivery`);
}

/** Builds the `recordTransition` activity. */
export function createTransitionActivities({ db }: ActivityDeps) {
  return {
    async recordTransition(raw: RecordTransitionInput): Promise<void> {
      const input = parseActivityInput(RecordTransitionInput, raw);
      const run = currentRun();
      const expected = taskWorkflowId(input);
      if (run.workflowId !== expected) throw new WorkflowIdMismatchError(run.workflowId, expected);
      await requireRecordBehind(db, input, run.runId);
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
