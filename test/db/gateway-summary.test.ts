/**
 * The verdict's gateway summary is added up by PostgreSQL: an agent can make a run's calls (each
 * storing up to 2 MiB of bodies) and refusals countless, and the verdict's worker loaded every
 * row, bodies and all, until it ran out of memory. The totals, the first reasons in the order they
 * came, and the stop are what the rows say; other runs' rows do not count.
 */
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { gatewaySummary, recordModelCall, type ModelCallRow } from '../../db/model-calls';
import { sandboxEvents } from '../../db/schema';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

/** One recorded call of `runId`, through `upstream`. */
function call(ref: { tenantId: string; taskId: string }, runId: string, upstream: string, n: number): ModelCallRow {
  return {
    ...ref,
    runId,
    agentId: 'agent',
    sessionId: 's1',
    purpose: 'agent',
    upstream,
    protocol: 'openai-chat',
    method: 'POST',
    path: '/v1/chat/completions',
    status: 200,
    streamed: false,
    requestDigest: 'd',
    responseDigest: 'd',
    requestBody: 'x'.repeat(1000),
    responseBody: 'y'.repeat(1000),
    inputTokens: n,
    outputTokens: 2 * n,
    costUsd: 0.1,
    latencyMs: 5,
  };
}

describe('db: the gateway summary a verdict states', function () {
  this.timeout(60_000);

  it('totals calls, tokens and cost per upstream, counts refusals, keeps the first five reasons and the stop', async () => {
    const { db } = testStack().database;
    const ref = { tenantId: uniqueId('tenant'), taskId: uniqueId('task') };
    for (const [upstream, n] of [
      ['b', 10],
      ['a', 1],
      ['b', 100],
    ] as const)
      await recordModelCall(db, call(ref, 'run-1', upstream, n));
    await recordModelCall(db, call(ref, 'run-other', 'a', 1000));
    // A flood of refusals, inserted in one statement: reasons r7, r6, …, r0 in the order they came, and one stop.
    await db.execute(sql`
      INSERT INTO ${sandboxEvents} (tenant_id, task_id, kind, op, path, allowed, reason, detail)
      SELECT ${ref.tenantId}, ${ref.taskId}, 'gateway', 'request', '/x', false,
             CASE WHEN i = 30000 THEN NULL ELSE 'r' || (7 - least(i / 1000, 7)) END,
             jsonb_build_object('runId', ${'run-1'}::text, 'stop', i = 5000)
      FROM generate_series(1, 30000) AS i`);
    const refusal = (op: string, reason: string, detail: Record<string, unknown>) =>
      db.insert(sandboxEvents).values({ ...ref, kind: 'gateway', op, allowed: false, reason, detail });
    // The count a session recorded past its cap stands for that many refusals.
    await refusal('refusals', '500 more requests refused', { runId: 'run-1', unrecorded: 500 });
    await refusal('request', 'another run', { runId: 'run-other' });
    const summary = await gatewaySummary(db, ref.tenantId, ref.taskId, 'run-1');
    assert.deepEqual(summary, {
      calls: 3,
      inputTokens: 111,
      outputTokens: 222,
      costUsd: 0.3,
      byUpstream: { a: 1, b: 2 },
      refusals: 30500,
      refusalReasons: ['r7', 'r6', 'r5', 'r4', 'r3'],
      stopReason: 'r2',
    });
    const none = await gatewaySummary(db, ref.tenantId, ref.taskId, 'run-none');
    assert.deepEqual(none, {
      calls: 0,
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      byUpstream: {},
      refusals: 0,
      refusalReasons: [],
    });
  });
});
