/**
 * Persists lifecycle transitions. Keyed on `(tenant, task, seq)`, so a retried activity or a
 * replayed workflow writes each event exactly once.
 */
import { sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { RecordTransitionInput } from '../domain/activity-io';
import { taskEvents, tasks } from '../db/schema';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { appendProvenance } from '../db/provenance';
import { TERMINAL_STATES } from '../domain/lifecycle';

/** Builds the `recordTransition` activity. */
export function createTransitionActivities({ db }: ActivityDeps) {
  return {
    async recordTransition(raw: RecordTransitionInput): Promise<void> {
      const input = parseActivityInput(RecordTransitionInput, raw);
      const at = new Date(input.at);
      const columns = Object.fromEntries(Object.entries(input.task).filter(([, v]) => v !== undefined));
      await db.transaction(async (tx) => {
        await tx
          .insert(tasks)
          .values({ tenantId: input.tenantId, id: input.taskId, workflowId: input.workflowId, state: input.to, lastSeq: input.seq, ...columns })
          .onConflictDoUpdate({
            target: [tasks.tenantId, tasks.id],
            set: { state: input.to, lastSeq: input.seq, updatedAt: sql`now()`, ...columns },
            // A late attempt of an older transition must not move the task backwards.
            setWhere: sql`${tasks.lastSeq} < ${input.seq}`,
          });
        await tx
          .insert(taskEvents)
          .values({
            tenantId: input.tenantId,
            taskId: input.taskId,
            seq: input.seq,
            fromState: input.from,
            toState: input.to,
            at,
            note: input.note,
          })
          .onConflictDoNothing();
      });
      if (input.to === 'RECEIVED' || TERMINAL_STATES.includes(input.to)) {
        const kind = input.to === 'RECEIVED' ? 'task.submitted' : `task.${input.to.toLowerCase()}`;
        await appendProvenance(db, { tenantId: input.tenantId, eventKey: `task/${input.taskId}/${kind}`, kind, subject: `${input.tenantId}/${input.taskId}`, payload: { workflowId: input.workflowId, at: input.at, ...columns } });
      }
      log.info('task transition recorded', { seq: input.seq, from: input.from, to: input.to });
    },
  };
}
