/**
 * Waiver decisions against PostgreSQL: is this approver allowed to decide for this tenant and
 * tier (and not deciding too many too fast)? Approved waivers are stored in the CAWS shape and
 * entered in the provenance chain.
 */
import { and, eq } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { AuthorizeWaiverDecisionInput, StoreWaiverInput } from '../domain/activity-io';
import { RecordMismatchError, WaiverNotAuthorizedError } from '../domain/errors';
import { canonicalJson } from '../domain/verdict';
import type { Db } from '../db/client';
import { recordRunEvent } from '../db/provenance';
import { gateResults } from '../db/schema';
import { decisionsInLastHour, getApprover, getWaiver, insertWaiver, recordDecision } from '../db/waivers';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';

/** Decisions one approver may make per hour. */
export const APPROVER_DECISIONS_PER_HOUR = 20;

/**
 * A waiver id already stored must hold this decision (a retry of the same run writes the same
 * row); one a previous run stored for the task is never taken as this run's.
 */
async function assertSameWaiver(db: Db, input: ReturnType<typeof StoreWaiverInput.parse>): Promise<void> {
  const row = await getWaiver(db, input.tenantId, input.waiverId);
  const same =
    row?.taskId === input.taskId &&
    row.expiresAt.getTime() === new Date(input.expiresAt).getTime() &&
    canonicalJson(row.delta) === canonicalJson({ max_files: input.delta.maxFiles, max_loc: input.delta.maxLoc }) &&
    canonicalJson(row.approvers) ===
      canonicalJson(input.approvers.map((a) => ({ handle: a.approver, approved_at: a.at })));
  if (!same)
    throw new RecordMismatchError(
      'waiver',
      `${input.waiverId} was stored with another task, delta, approvers or expiry`,
    );
}

/** Builds `authorizeWaiverDecision` and `storeWaiver`. */
export function createWaiverActivities({ db }: ActivityDeps) {
  return {
    async authorizeWaiverDecision(raw: AuthorizeWaiverDecisionInput): Promise<void> {
      const input = parseActivityInput(AuthorizeWaiverDecisionInput, raw);
      const who = await getApprover(db, input.tenantId, input.approver);
      if (!who || !who.active)
        throw new WaiverNotAuthorizedError(`'${input.approver}' is not an approver for tenant '${input.tenantId}'`);
      if (!who.tiers.includes(input.riskTier))
        throw new WaiverNotAuthorizedError(`'${input.approver}' may not decide waivers at risk tier ${input.riskTier}`);
      const recent = await decisionsInLastHour(db, input.tenantId, input.approver);
      if (recent >= APPROVER_DECISIONS_PER_HOUR)
        throw new WaiverNotAuthorizedError(
          `'${input.approver}' has made ${recent} waiver decisions in the last hour; the limit is ${APPROVER_DECISIONS_PER_HOUR}`,
        );
      await recordDecision(db, {
        tenantId: input.tenantId,
        taskId: input.taskId,
        approver: input.approver,
        decision: input.decision,
        detail: input.detail,
      });
      log.info('waiver decision authorised', { approver: input.approver, decision: input.decision });
    },

    async storeWaiver(raw: StoreWaiverInput): Promise<void> {
      const input = parseActivityInput(StoreWaiverInput, raw);
      const { runId } = currentRun();
      const inserted = await insertWaiver(db, {
        tenantId: input.tenantId,
        id: input.waiverId,
        taskId: input.taskId,
        title: `Budget waiver for ${input.specId} (task ${input.taskId})`,
        gates: input.gates,
        delta: { max_files: input.delta.maxFiles, max_loc: input.delta.maxLoc },
        reasonCode: input.reasonCode,
        justification: input.justification,
        approvers: input.approvers.map((a) => ({ handle: a.approver, approved_at: a.at })),
        status: 'active',
        expiresAt: new Date(input.expiresAt),
      });
      if (!inserted) await assertSameWaiver(db, input);
      await db
        .update(gateResults)
        .set({ status: 'pass', detail: input.budgetDetail })
        .where(
          and(
            eq(gateResults.tenantId, input.tenantId),
            eq(gateResults.taskId, input.taskId),
            eq(gateResults.runId, runId),
            eq(gateResults.name, 'budget'),
          ),
        );
      await recordRunEvent(db, { ...input, runId }, 'waiver', 'waiver.approved', {
        waiverId: input.waiverId,
        delta: input.delta,
        approvers: input.approvers.map((a) => a.approver),
        reasonCode: input.reasonCode,
        expiresAt: input.expiresAt,
      });
    },
  };
}
