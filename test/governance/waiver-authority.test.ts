/**
 * Who may decide a waiver, checked by the authorizeWaiverDecision activity before any update
 * counts: a deactivated approver is refused like an unknown one, and an approver who already
 * made the hourly number of decisions is refused until the hour has passed. Each test fails
 * with its check skipped in lib/ (both survived a mutation run of the suite, issue #9).
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { APPROVER_DECISIONS_PER_HOUR } from '../../activities/waivers';
import { approvers, waiverDecisions } from '../../db/schema';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { SILENT_LOGGER } from '../../workers/logger';

function authorize(tenantId: string, approver: string, riskTier = 3) {
  const env = new MockActivityEnvironment({}, { logger: SILENT_LOGGER });
  const a = createActivities(testActivityDeps());
  return env.run(a.authorizeWaiverDecision, {
    tenantId,
    taskId: uniqueId('task'),
    approver,
    riskTier,
    decision: 'approve' as const,
    detail: {},
  });
}

async function assertNotAuthorized(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'WaiverNotAuthorizedError', err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('governance: who may decide a waiver', function () {
  this.timeout(60_000);

  it('a deactivated approver is refused as not an approver, and the refusal is not recorded as a decision', async () => {
    const { db } = testStack().database;
    const tenant = uniqueId('waive');
    await db.insert(approvers).values([
      { tenantId: tenant, name: 'active', tiers: [1, 2, 3] },
      { tenantId: tenant, name: 'retired', tiers: [1, 2, 3], active: false },
    ]);
    await authorize(tenant, 'active'); // the control: the same approver, active, is authorised
    await assertNotAuthorized(
      authorize(tenant, 'retired'),
      new RegExp(`'retired' is not an approver for tenant '${tenant}'`),
    );
    const decisions = await db.select().from(waiverDecisions).where(eq(waiverDecisions.tenantId, tenant));
    assert.deepEqual(
      decisions.map((d) => d.approver),
      ['active'],
    );
  });

  it(`an approver is refused after ${APPROVER_DECISIONS_PER_HOUR} decisions in the last hour, and older decisions do not count`, async () => {
    const { db } = testStack().database;
    const tenant = uniqueId('waive');
    await db.insert(approvers).values({ tenantId: tenant, name: 'busy', tiers: [1, 2, 3] });
    // Decisions older than an hour are not counted.
    const old = new Date(Date.now() - 2 * 3_600_000);
    await db.insert(waiverDecisions).values(
      Array.from({ length: APPROVER_DECISIONS_PER_HOUR }, () => ({
        tenantId: tenant,
        taskId: 'old',
        approver: 'busy',
        decision: 'approve',
        createdAt: old,
      })),
    );
    for (let i = 0; i < APPROVER_DECISIONS_PER_HOUR; i++) await authorize(tenant, 'busy');
    await assertNotAuthorized(
      authorize(tenant, 'busy'),
      new RegExp(
        `'busy' has made ${APPROVER_DECISIONS_PER_HOUR} waiver decisions in the last hour; the limit is ${APPROVER_DECISIONS_PER_HOUR}`,
      ),
    );
    const recent = await db
      .select()
      .from(waiverDecisions)
      .where(and(eq(waiverDecisions.tenantId, tenant), eq(waiverDecisions.taskId, 'old')));
    assert.equal(recent.length, APPROVER_DECISIONS_PER_HOUR, 'the old decisions are untouched');
  });
});
