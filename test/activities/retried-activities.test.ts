/**
 * What a retried activity does, played at the activity boundary as Temporal would schedule it:
 * a statement PostgreSQL refuses fails at once (typed, non-retryable) while an outage stays
 * retryable, and an activity that committed before its worker died counts nothing on its retry.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { openDatabase } from '../../db/client';
import { startEmbeddedPostgres } from '../../db/embedded';
import { migrateDatabase } from '../../db/migrate';
import { taskEvents, waiverDecisions } from '../../db/schema';
import { DatabaseRejectedError } from '../../domain/errors';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { addScriptedAgent, circuitOf, GOOD_PLAN, tempDir, uniqueId } from '../helpers/fixtures';
import { freePort, testActivityDeps, testStack } from '../helpers/stack';
import { ownTask, routeTo } from '../helpers/tasks';

/** The activities as run `runId` of the task's own workflow, over `deps`. */
function asRun(ref: { tenantId: string; taskId: string }, deps = testActivityDeps(), runId = 'run-1') {
  const workflowId = taskWorkflowId(ref);
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }, { logger: SILENT_LOGGER });
  return { env, a: createActivities(deps), workflowId };
}

function transition(ref: { tenantId: string; taskId: string }, note: string, deps = testActivityDeps(), seq = 0) {
  const { env, a, workflowId } = asRun(ref, deps);
  const at = new Date().toISOString();
  return env.run(a.recordTransition, { ...ref, workflowId, seq, from: null, to: 'RECEIVED' as const, at, note });
}

describe('database errors in activities', function () {
  this.timeout(120_000);

  it('a statement PostgreSQL refuses (SQLSTATE 22) fails at once as a non-retryable DatabaseRejectedError', async () => {
    const ref = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };
    // A number past PostgreSQL's integer: the same statement fails the same way on every attempt.
    await assert.rejects(transition(ref, 'a note', testActivityDeps(), 2 ** 31), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, DatabaseRejectedError.type);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /SQLSTATE 22003/);
      return true;
    });
  });

  // PostgreSQL text cannot hold NUL: a note (or a gate's output, a tool result) holding one refused the whole write.
  it('a NUL in any text stored is kept as \\0, not refused', async () => {
    const ref = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };
    await transition(ref, 'reason with a \u0000 byte');
    const [row] = await testStack()
      .database.db.select()
      .from(taskEvents)
      .where(and(eq(taskEvents.tenantId, ref.tenantId), eq(taskEvents.taskId, ref.taskId)));
    assert.equal(row.note, 'reason with a \\0 byte');
  });

  it('an outage (PostgreSQL stopped) stays retryable, and the retry succeeds once it is back', async () => {
    const dir = tempDir('arbiter-outage-');
    chmodSync(dir, 0o755); // the embedded server runs as the postgres user when we are root
    const dataDir = path.join(dir, 'pg');
    const port = await freePort();
    let pg = await startEmbeddedPostgres({ dataDir, port });
    const database = openDatabase(pg.url);
    try {
      await migrateDatabase(database.pool);
      const deps = testActivityDeps({ db: database.db });
      const ref = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };
      await pg.stop();
      await assert.rejects(transition(ref, 'during the outage', deps), (err: unknown) => {
        assert.ok(!(err instanceof ApplicationFailure && err.nonRetryable), `retryable: ${String(err)}`);
        return true;
      });
      pg = await startEmbeddedPostgres({ dataDir, port });
      await transition(ref, 'after the outage', deps);
    } finally {
      await database.close();
      await pg.stop();
    }
  });
});

describe('activities retried after they committed', function () {
  this.timeout(60_000);

  it('authorizeWaiverDecision run twice with the same decision records (and rate-counts) it once', async () => {
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const key = await registeredApprover(tenantId, 'alice');
    const signed = await signedApproval({ tenantId, taskId }, PENDING_WAIVER, key);
    const { env, a } = asRun({ tenantId, taskId });
    await ownTask(env, { tenantId, taskId });
    const input = { tenantId, taskId, riskTier: 3, signed };
    await env.run(a.authorizeWaiverDecision, input);
    await env.run(a.authorizeWaiverDecision, input);
    const rows = await testStack()
      .database.db.select()
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, tenantId), eq(waiverDecisions.taskId, taskId)));
    assert.equal(rows.length, 1);
  });

  it('recordAgentHealth run twice for the same run counts one infrastructure failure', async () => {
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const agent = await addScriptedAgent(tenantId, GOOD_PLAN);
    const { env, a } = asRun({ tenantId, taskId });
    await routeTo(env, a, { tenantId, taskId }, agent.id);
    const input = { tenantId, taskId, agentId: agent.id, ok: false };
    await env.run(a.recordAgentHealth, input);
    await env.run(a.recordAgentHealth, input);
    assert.deepEqual(await circuitOf(tenantId, agent.id), [1, null]);
  });

  // An insider resetting one failed history three times made three runs, each reporting: a shared agent's
  // circuit opened for every tenant, and resetting a passed one closed a broken agent's.
  it('recordAgentHealth from runs a reset made of one task counts once', async () => {
    const tenantId = uniqueId('tenant');
    const taskId = uniqueId('task');
    const agent = await addScriptedAgent(tenantId, GOOD_PLAN);
    const first = asRun({ tenantId, taskId });
    await routeTo(first.env, first.a, { tenantId, taskId }, agent.id);
    for (const runId of ['run-1', 'run-2', 'run-3']) {
      const { env, a } = asRun({ tenantId, taskId }, testActivityDeps(), runId);
      await ownTask(env, { tenantId, taskId }); // each reset run takes the task over at its first transition
      await env.run(a.recordAgentHealth, { tenantId, taskId, agentId: agent.id, ok: false });
    }
    assert.deepEqual(await circuitOf(tenantId, agent.id), [1, null], 'the circuit stays closed');
  });
});
