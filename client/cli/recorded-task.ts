/**
 * What the CLI shows of a task, held to what Arbiter recorded. A snapshot is the task workflow's
 * own answer (a query, an update, its result), and anyone who may write to the namespace can end
 * the real run and answer under the task's workflow id with workflow code of their own: a forged
 * COMPLETED with a PASS verdict and a delivery was shown, exit 0, while the record said VERIFYING
 * with no verdict (found in review). The records are written by Arbiter's workers alone.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { deliveryRecorded } from '../../db/deliveries';
import { tasks } from '../../db/schema';
import { taskVisible } from '../../db/tasks';
import { storedVerdict } from '../../db/verdicts';
import { isCandidateTaskId } from '../../domain/candidates';
import { printable } from '../../domain/printable';
import type { TaskSnapshot } from '../../domain/task';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { describesTask, TaskNotFoundError } from '../arbiter-client';
import { parseTaskArg } from './task-ref';
import { withTenantDb } from './with-db';

/**
 * Arbiter's own check before reading or acting on a task through Temporal: the task's row must be
 * visible to this CLI's database role, which row-level security allows only for tenants granted
 * to it. A task just submitted gets its row within moments, so a missing one is looked for a little while.
 */
export async function assertTaskVisible(ref: TaskRef): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await withTenantDb(ref.tenantId, (db) => taskVisible(db, ref.tenantId, ref.taskId))) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new TaskNotFoundError(taskWorkflowId(ref));
}

/** The task an argument names, once {@link assertTaskVisible} allows it. */
export async function visibleTask(arg: string, tenant: string): Promise<TaskRef> {
  const ref = parseTaskArg(arg, tenant);
  await assertTaskVisible(ref);
  return ref;
}

/** The run the task's record names now (the one its last transition came from), if it has a record. */
async function recordedRun(db: Db, ref: TaskRef): Promise<{ runId: string; state: string } | undefined> {
  const [row] = await db
    .select({ runId: tasks.runId, state: tasks.state })
    .from(tasks)
    .where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId)));
  return row;
}

/**
 * Each way a snapshot's claim of success (COMPLETED, a verdict, a delivery) differs from the task's
 * record: its state, the verdict stored for the record's run, the delivery it recorded. A COMPLETED
 * needs both (a candidate's, the verdict alone: its task delivers), whatever the snapshot leaves
 * out: workflow code of one's own can write a transition (the record's state and run), but only
 * `issueVerdict` stores a verdict, and only `deliverChange` records a delivery. Every record read
 * is the task `ref`'s, the one asked about: a snapshot names its task itself, and a copy of
 * another task's passed for this one's (found in review).
 */
export async function recordMismatches(ref: TaskRef, s: TaskSnapshot): Promise<string[]> {
  if (!describesTask(ref, s))
    return [
      `the answer describes another task (${printable(`${s.tenantId}/${s.taskId}, ${s.workflowId}`.slice(0, 600))})`,
    ];
  if (s.state !== 'COMPLETED' && !s.verdict && !s.delivery) return [];
  return withTenantDb(ref.tenantId, async (db) => {
    const row = await recordedRun(db, ref);
    if (!row) return ['the task has no record'];
    const completed = s.state === 'COMPLETED';
    const problems = completed && row.state !== 'COMPLETED' ? [`the record says ${row.state}`] : [];
    const verdict = await storedVerdict(db, ref.tenantId, ref.taskId, row.runId);
    if (s.verdict && (verdict?.digest !== s.verdict.digest || verdict.outcome !== s.verdict.outcome))
      problems.push(`no ${s.verdict.outcome} verdict ${s.verdict.digest} is recorded for run ${row.runId}`);
    if (completed && verdict?.outcome !== 'PASS' && verdict?.outcome !== 'WAIVED')
      problems.push(`no PASS or WAIVED verdict is recorded for run ${row.runId}`);
    const { branch, commit } = s.delivery ?? {};
    if (s.delivery && !(await deliveryRecorded(db, ref, row.runId, { branch, commit })))
      problems.push(`no delivery to ${s.delivery.branch} @ ${s.delivery.commit} is recorded`);
    if (completed && !isCandidateTaskId(ref.taskId) && !(await deliveryRecorded(db, ref, row.runId)))
      problems.push(`no delivery is recorded for run ${row.runId}`);
    return problems;
  });
}

/** True when `s` claims nothing the record of `ref` denies; otherwise says why on stderr (the command then fails). */
export async function heldToRecord(ref: TaskRef, s: TaskSnapshot): Promise<boolean> {
  const problems = await recordMismatches(ref, s);
  for (const p of problems)
    process.stderr.write(
      `arbiter: ${ref.tenantId}/${ref.taskId}: what Temporal answered is not Arbiter's record: ${p} (the run answering is not Arbiter's)\n`,
    );
  return problems.length === 0;
}
