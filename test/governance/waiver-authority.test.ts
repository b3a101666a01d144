/**
 * Who may decide a waiver, checked by the authorizeWaiverDecision activity before any update
 * counts: a revoked approver is refused like an unknown one, a key that is not the approver's
 * registered key (rotated since) is refused, and an approver who already made the hourly number
 * of decisions is refused until the hour has passed.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { APPROVER_DECISIONS_PER_HOUR } from '../../activities/waivers';
import { waiverDecisions } from '../../db/schema';
import { revokeApprover } from '../../db/waivers';
import {
  approverKey,
  PENDING_WAIVER,
  registeredApprover,
  signedApproval,
  type TestApprover,
} from '../helpers/approvers';
import { uniqueId } from '../helpers/fixtures';
import { ownTask } from '../helpers/tasks';
import { testActivityDeps, testStack } from '../helpers/stack';
import type { SignedDecision } from '../../domain/approval';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';

/** `authorizeWaiverDecision` in the run `taskId`'s request names (PENDING_WAIVER's), which owns the task. */
async function authorizeIn(tenantId: string, taskId: string, signed: SignedDecision, riskTier = 3) {
  const workflowExecution = { workflowId: taskWorkflowId({ tenantId, taskId }), runId: PENDING_WAIVER.runId };
  const env = new MockActivityEnvironment({ workflowExecution }, { logger: SILENT_LOGGER });
  await ownTask(env, { tenantId, taskId });
  return env.run(createActivities(testActivityDeps()).authorizeWaiverDecision, { tenantId, taskId, riskTier, signed });
}

async function authorize(tenantId: string, key: TestApprover, riskTier = 3) {
  const taskId = uniqueId('task');
  const signed = await signedApproval({ tenantId, taskId }, PENDING_WAIVER, key);
  return authorizeIn(tenantId, taskId, signed, riskTier);
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

  it('a revoked approver is refused as not an approver, and the refusal is not recorded as a decision', async () => {
    const { db } = testStack().database;
    const tenant = uniqueId('waive');
    const active = await registeredApprover(tenant, 'active');
    const retired = await registeredApprover(tenant, 'retired');
    await revokeApprover(db, tenant, 'retired');
    await authorize(tenant, active); // the control: the same kind of approver, active, is authorised
    await assertNotAuthorized(
      authorize(tenant, retired),
      new RegExp(`'retired' is not an approver for tenant '${tenant}'`),
    );
    const decisions = await db.select().from(waiverDecisions).where(eq(waiverDecisions.tenantId, tenant));
    assert.deepEqual(
      decisions.map((d) => d.approver),
      ['active'],
    );
  });

  it("a key that is not the approver's registered key (rotated since it signed) is refused", async () => {
    const tenant = uniqueId('waive');
    const old = await registeredApprover(tenant, 'carol');
    await registeredApprover(tenant, 'carol'); // re-keyed: only the new key counts
    await assertNotAuthorized(
      authorize(tenant, old),
      new RegExp(`signed with ${old.keyId.replace(/[+/]/g, '.')}, which is not the registered key of 'carol'`),
    );
    const stranger = approverKey('carol');
    await assertNotAuthorized(authorize(tenant, stranger), /which is not the registered key of 'carol'/);
  });

  it(`an approver is refused after ${APPROVER_DECISIONS_PER_HOUR} decisions in the last hour, and older decisions do not count`, async () => {
    const { db } = testStack().database;
    const tenant = uniqueId('waive');
    const busy = await registeredApprover(tenant, 'busy');
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
    for (let i = 0; i < APPROVER_DECISIONS_PER_HOUR; i++) await authorize(tenant, busy);
    await assertNotAuthorized(
      authorize(tenant, busy),
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

  // Before: any decision a history held was authorised under task ids of one's choosing, each
  // counted against the approver's hourly limit, until their real decisions were refused.
  it('a decision is authorised only for the task and run whose request it signs, and only while unexpired', async () => {
    const { db } = testStack().database;
    const tenant = uniqueId('waive');
    const alice = await registeredApprover(tenant, 'alice');
    const taskId = uniqueId('task');
    const signed = await signedApproval({ tenantId: tenant, taskId }, PENDING_WAIVER, alice);
    await assertNotAuthorized(
      authorizeIn(tenant, uniqueId('junk'), signed),
      new RegExp(`the decision is for task ${taskId} run run-1 of tenant '${tenant}', not this run's`),
    );
    const otherRun = { ...PENDING_WAIVER, runId: 'run-2' };
    await assertNotAuthorized(
      authorizeIn(tenant, taskId, await signedApproval({ tenantId: tenant, taskId }, otherRun, alice)),
      /the decision is for task .* run run-2 of tenant/,
    );
    const expiresAt = new Date(Date.now() - 1000).toISOString();
    await assertNotAuthorized(
      authorizeIn(
        tenant,
        taskId,
        await signedApproval({ tenantId: tenant, taskId }, PENDING_WAIVER, alice, { expiresAt }),
      ),
      new RegExp(`the signed decision expired at ${expiresAt.replace(/\./g, '\\.')}`),
    );
    assert.deepEqual(await db.select().from(waiverDecisions).where(eq(waiverDecisions.tenantId, tenant)), []);
    await authorizeIn(tenant, taskId, signed); // the control: its own task and run
    const counted = await db.select().from(waiverDecisions).where(eq(waiverDecisions.tenantId, tenant));
    assert.equal(counted.length, 1);
  });
});
