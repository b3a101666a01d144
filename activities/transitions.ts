/**
 * Persists lifecycle transitions and guards the task row: a task id runs once. Events are keyed
 * on `(tenant, task, run, seq)`, so a retried activity or a replayed workflow writes each event
 * exactly once. The run comes from the activity's context, never from input: a run under another
 * workflow id is refused, a task that ended refuses every other run, and a run may take over
 * only a task whose previous run never ended (it was reset or terminated mid-flight).
 */
import { and, eq, sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { RecordTransitionInput } from '../domain/activity-io';
import { TaskAlreadyEndedError, WorkflowIdMismatchError } from '../domain/errors';
import { isTerminal } from '../domain/lifecycle';
import type { RunIdentity } from '../domain/verdict';
import type { DbExecutor } from '../db/client';
import { recordRunEvent } from '../db/provenance';
import { taskEvents, tasks } from '../db/schema';
import { taskWorkflowId } from '../temporal-config';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';

type Input = ReturnType<typeof RecordTransitionInput.parse>;

/**
 * Creates the task row for this run, or locks the existing one and decides whether this run may
 * write it: refused when another run ended the task, taken over when another run left it
 * unfinished. Within one run, only a newer transition than the row's last one updates it.
 */
async function claimTask(
  tx: DbExecutor,
  input: Input,
  run: RunIdentity,
  columns: Record<string, unknown>,
): Promise<void> {
  const fields = { workflowId: run.workflowId, runId: run.runId, state: input.to, lastSeq: input.seq, ...columns };
  await tx
    .insert(tasks)
    .values({ tenantId: input.tenantId, id: input.taskId, ...fields })
    .onConflictDoNothing();
  const [row] = await tx
    .select()
    .from(tasks)
    .where(and(eq(tasks.tenantId, input.tenantId), eq(tasks.id, input.taskId)))
    .for('update');
  const otherRun = row.runId !== run.runId;
  if (otherRun && isTerminal(row.state))
    throw new TaskAlreadyEndedError(
      `${input.tenantId}/${input.taskId}`,
      row.state,
      row.runId || '(recorded before runs were tracked)',
    );
  if (otherRun)
    log.warn('run takes over a task its previous run left unfinished', { previousRunId: row.runId, state: row.state });
  // A late attempt of an older transition of this run must not move the task backwards.
  if (!otherRun && row.lastSeq >= input.seq) return;
  await tx
    .update(tasks)
    .set({ ...fields, updatedAt: sql`now()` })
    .where(and(eq(tasks.tenantId, input.tenantId), eq(tasks.id, input.taskId)));
}

/** Builds the `recordTransition` activity. */
export function createTransitionActivities({ db }: ActivityDeps) {
  return {
    async recordTransition(raw: RecordTransitionInput): Promise<void> {
      const input = parseActivityInput(RecordTransitionInput, raw);
      const run = currentRun();
      const expected = taskWorkflowId(input);
      if (run.workflowId !== expected) throw new WorkflowIdMismatchError(run.workflowId, expected);
      const columns = Object.fromEntries(Object.entries(input.task).filter(([, v]) => v !== undefined));
      await db.transaction(async (tx) => {
        await claimTask(tx, input, run, columns);
        await tx
          .insert(taskEvents)
          .values({
            tenantId: input.tenantId,
            taskId: input.taskId,
            runId: run.runId,
            seq: input.seq,
            fromState: input.from,
            toState: input.to,
            at: new Date(input.at),
            note: input.note,
          })
          .onConflictDoNothing();
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
