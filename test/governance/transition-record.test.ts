/**
 * Attack (found in review): `recordTransition` wrote whatever verdict a transition stated. An
 * insider's own workflow code recorded RECEIVED → COMPLETED with verdict PASS for a task that never
 * ran, and `task.completed {verdict: PASS}` went into the tenant's provenance chain, whose signed
 * checkpoints vouch for it. A verdict a transition states is now the run's stored verdict, VERIFIED
 * and COMPLETED state a passing one, and COMPLETED (but for a candidate) follows the run's delivery.
 */
import assert from 'node:assert/strict';
import { and, asc, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { provenanceEvents, tasks } from '../../db/schema';
import { candidateTaskId } from '../../domain/candidates';
import type { TaskState } from '../../domain/lifecycle';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { storeVerdictOf } from '../helpers/tasks';
import { refusedAs } from './insider-run';

describe('governance: what a transition states is on record', function () {
  this.timeout(60_000);
  const a = () => createActivities(testActivityDeps());

  function runOf(ref: { tenantId: string; taskId: string }) {
    const workflowId = taskWorkflowId(ref);
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId, runId: uniqueId('run') } },
      { logger: SILENT_LOGGER },
    );
    const at = new Date().toISOString();
    const move = (seq: number, from: TaskState | null, to: TaskState, task: Record<string, string> = {}) =>
      env.run(a().recordTransition, { ...ref, workflowId, seq, from, to, at, task });
    return { env, move };
  }

  it('refuses a verdict, VERIFIED or COMPLETED the run has no record for; takes one it has', async () => {
    const ref = { tenantId: uniqueId('insider'), taskId: uniqueId('task') };
    const { env, move } = runOf(ref);
    await move(0, null, 'RECEIVED');
    const noVerdict = refusedAs('RecordMismatchError', /has none$/);
    await assert.rejects(move(1, 'RECEIVED', 'COMPLETED', { verdict: 'PASS' }), noVerdict);
    await assert.rejects(move(1, 'RECEIVED', 'VERIFIED', { verdict: 'PASS' }), noVerdict);
    await assert.rejects(move(1, 'RECEIVED', 'VERIFIED'), noVerdict);
    await assert.rejects(move(1, 'RECEIVED', 'FAILED', { verdict: 'FAIL' }), noVerdict);

    await storeVerdictOf(env, ref, 'agent', 'FAIL', ['fail']);
    await assert.rejects(move(1, 'RECEIVED', 'VERIFIED', { verdict: 'PASS' }), /has a FAIL$/);
    await assert.rejects(move(1, 'RECEIVED', 'VERIFIED', { verdict: 'FAIL' }), /has a FAIL$/, 'VERIFIED is a pass');
    await move(1, 'RECEIVED', 'FAILED', { verdict: 'FAIL' });

    const { db } = testStack().database;
    const [row] = await db
      .select()
      .from(tasks)
      .where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId)));
    assert.deepEqual([row.state, row.verdict], ['FAILED', 'FAIL']);
    const kinds = await db
      .select({ kind: provenanceEvents.kind })
      .from(provenanceEvents)
      .where(eq(provenanceEvents.subject, `${ref.tenantId}/${ref.taskId}`))
      .orderBy(asc(provenanceEvents.seq));
    assert.deepEqual(
      kinds.map((k) => k.kind),
      ['task.submitted', 'task.failed'],
    );
  });

  it('refuses COMPLETED without the run’s delivery, but for a candidate, which delivers nothing', async () => {
    const tenantId = uniqueId('insider');
    const ref = { tenantId, taskId: uniqueId('task') };
    const task = runOf(ref);
    await task.move(0, null, 'RECEIVED');
    await storeVerdictOf(task.env, ref, 'agent', 'PASS', ['pass']);
    await task.move(1, 'RECEIVED', 'VERIFIED', { verdict: 'PASS' });
    await assert.rejects(
      task.move(2, 'VERIFIED', 'COMPLETED', { verdict: 'PASS' }),
      refusedAs('RecordMismatchError', /COMPLETED: run \S+ of \S+ recorded no delivery/),
    );

    const candidate = { tenantId, taskId: candidateTaskId(ref.taskId, 1) };
    const run = runOf(candidate);
    await run.move(0, null, 'RECEIVED');
    await storeVerdictOf(run.env, candidate, 'agent', 'PASS', ['pass']);
    await run.move(1, 'RECEIVED', 'COMPLETED', { verdict: 'PASS' });
  });
});
