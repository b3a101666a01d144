/**
 * Waiver decisions against PostgreSQL: the tenant's approver keys for the workflow's validator,
 * and the authoritative check of each signed decision (registered key, tier, rate limit).
 * Approved waivers are stored in the CAWS shape with their signed approvals and entered in the
 * provenance chain.
 */
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { AuthorizeWaiverDecisionInput, LoadApproverKeysInput, StoreWaiverInput } from '../domain/activity-io';
import { lapseProblem, signatureValid, type RegisteredKey } from '../domain/approval';
import { RecordMismatchError, WaiverNotAuthorizedError } from '../domain/errors';
import { canonicalJson } from '../domain/canonical';
import { storedPatchStats, type StoredPatch } from '../db/artifacts';
import type { Db } from '../db/client';
import type { RunKey } from '../db/run-policies';
import type { RepoPolicy } from '../domain/repo-policy';
import type { WorkingSpec } from '../domain/spec';
import { storedApprovalsProblem } from '../domain/approval-evidence';
import { requiredApprovers, uncoveredOverrun } from '../domain/policy';
import { BASE_COUNTED, taskWaiverId } from '../domain/waiver';
import { recordRunEvent } from '../db/provenance';
import { gateResults, waiverDecisions } from '../db/schema';
import { approverKeys, decisionsInLastHour, getApprover, getWaiver, insertWaiver, recordDecision } from '../db/waivers';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { requireOwnTask } from './task-ended';
import { judgingPolicy } from './repo-policy';
import { currentRun } from './run-identity';
import { validatedSpec } from './spec-refs';
import { budgetDetailProblem, decisionRecordProblem, recordedApprovers, unsignedTermsProblem } from './waiver-record';

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
    canonicalJson(row.approvals) === canonicalJson(input.approvals);
  if (!same)
    throw new RecordMismatchError(
      'waiver',
      `${input.waiverId} was stored with another task, delta, approvals or expiry`,
    );
}

/**
 * The authoritative check as the waiver is granted: each approval's key is still its approver's in
 * PostgreSQL and unexpired. The workflow withdraws lapsed approvals as the quorum completes, from
 * the keys it last read; a revocation it was not told of is caught here.
 */
async function lapsedApprovals(db: Db, input: ReturnType<typeof StoreWaiverInput.parse>): Promise<string[]> {
  const keyring = await approverKeys(db, input.tenantId);
  return input.approvals.flatMap((a) => {
    const problem = lapseProblem(a, keyring, input.riskTier, Date.now());
    return problem ? [`${a.claim.approver}: ${problem}`] : [];
  });
}

/**
 * Why PostgreSQL does not let this signed decision count now, or undefined when it may. A decision
 * counts only for the run whose request it signs, while unexpired: a workflow of one's own could
 * otherwise replay any decision a history holds under task ids of its choosing, each counted
 * against the approver's hourly limit until their real decisions were refused.
 */
async function refusal(
  db: Db,
  input: ReturnType<typeof AuthorizeWaiverDecisionInput.parse>,
): Promise<string | undefined> {
  const { claim, keyId } = input.signed;
  const { runId } = currentRun();
  if (claim.tenantId !== input.tenantId || claim.taskId !== input.taskId || claim.runId !== runId)
    return `the decision is for task ${claim.taskId} run ${claim.runId} of tenant '${claim.tenantId}', not this run's (${input.taskId} run ${runId})`;
  if (Date.parse(claim.expiresAt) <= Date.now()) return `the signed decision expired at ${claim.expiresAt}`;
  const who = await getApprover(db, input.tenantId, claim.approver);
  if (!who || !who.active) return `'${claim.approver}' is not an approver for tenant '${input.tenantId}'`;
  if (who.keyId !== keyId) return `signed with ${keyId}, which is not the registered key of '${claim.approver}'`;
  if (!who.tiers.includes(input.riskTier))
    return `'${claim.approver}' may not decide waivers at risk tier ${input.riskTier}`;
  if (!signatureValid(input.signed)) return `the signature does not verify against ${keyId}`;
  const recent = await decisionsInLastHour(db, input.tenantId, claim.approver);
  if (recent >= APPROVER_DECISIONS_PER_HOUR)
    return `'${claim.approver}' has made ${recent} waiver decisions in the last hour; the limit is ${APPROVER_DECISIONS_PER_HOUR}`;
  return undefined;
}

/** True when this signed decision was authorised and recorded for the task before (by an earlier attempt). */
async function alreadyRecorded(db: Db, input: ReturnType<typeof AuthorizeWaiverDecisionInput.parse>): Promise<boolean> {
  const { signature } = input.signed;
  const [row] = await db
    .select({ id: waiverDecisions.id })
    .from(waiverDecisions)
    .where(
      and(
        eq(waiverDecisions.tenantId, input.tenantId),
        eq(waiverDecisions.taskId, input.taskId),
        eq(sql`${waiverDecisions.detail}->>'signature'`, signature),
      ),
    );
  return row !== undefined;
}

/**
 * Why this run may not store this waiver, or undefined: the workflow decides that a budget overrun
 * may be waived and counts the approvals, and anyone who may write to the namespace can run
 * workflow code that skips both, or hands over approvals another task's history holds. So every
 * approval must be for this run's request (one tree), the policy must have a waivers section, the
 * waiver end within its days, the approvals make its quorum for the tier of the spec the run
 * validated, and their delta cover the change's overrun as measured, never its byte budget.
 */
async function policyWaiverProblem(
  db: Db,
  run: RunKey,
  input: ReturnType<typeof StoreWaiverInput.parse>,
  patch: StoredPatch | undefined,
  judging: JudgingTerms,
): Promise<string | undefined> {
  const { treeId, patchDigest } = input.approvals[0].claim;
  const foreign = input.approvals.find(
    ({ claim }) =>
      claim.taskId !== run.taskId ||
      claim.runId !== run.runId ||
      claim.treeId !== treeId ||
      claim.patchDigest !== patchDigest,
  );
  if (foreign)
    return `the approval by ${foreign.claim.approver} is for task ${foreign.claim.taskId} run ${foreign.claim.runId} tree ${foreign.claim.treeId} patch ${foreign.claim.patchDigest}, not this run's request`;
  if (typeof judging === 'string' || !judging) return judging;
  const { policy, spec } = judging;
  const { enabled, maxExpiryDays } = policy.waivers;
  if (!enabled) return "the repository's policy has no waivers section: a budget overrun fails";
  // An hour's slack: approvers' clocks, and the server's that counted their approvals, are not this worker's.
  if (Date.parse(input.expiresAt) > Date.now() + maxExpiryDays * 86_400_000 + 3_600_000)
    return `it expires ${input.expiresAt}, past the policy's ${maxExpiryDays} days`;
  const unapproved = storedApprovalsProblem(input.approvals, {
    tenantId: input.tenantId,
    specId: spec.id,
    delta: input.delta,
    riskTier: spec.riskTier,
    required: requiredApprovers(spec.riskTier, policy.waivers.minApprovers),
    keyring: await approverKeys(db, input.tenantId),
    change: { taskId: run.taskId, runId: run.runId, treeId },
  });
  if (unapproved) return unapproved;
  if (!patch) return `the task stored no patch ${patchDigest} of tree ${treeId}, the change the approvals name`;
  // A patch stored before its measurement was (migration 0024) is judged as before.
  return patch.stats ? uncoveredOverrun(patch.stats, spec, policy, input.delta) : undefined;
}

/** The policy and spec the run is judged by; undefined for a run recorded before policies were (legacy), a string when no spec was validated. */
type JudgingTerms = { policy: RepoPolicy; spec: WorkingSpec } | string | undefined;

async function judgingTerms(db: Db, run: RunKey): Promise<JudgingTerms> {
  const read = await judgingPolicy(db, run);
  if (read === 'legacy') return undefined;
  const spec = await validatedSpec(db, run);
  return spec ? { policy: read.policy, spec } : `no spec was validated for run ${run.runId}`;
}

/** Budget rows measured from the approved patch's base: a patch of the same tree from another base is another change. */
const fromBaseOf = (patch: StoredPatch | undefined) =>
  patch?.baseCommit ? or(isNull(gateResults.baseCommit), eq(gateResults.baseCommit, patch.baseCommit)) : undefined;

/**
 * Why the change's budget is not one a waiver raises: its stored budget counts the changes of a
 * base off the trusted ref ({@link BASE_COUNTED}), which the approvals, sized from the agent's
 * change, never saw. The workflow asks no waiver then; workflow code of one's own could.
 */
async function baseCountedProblem(
  db: Db,
  task: { tenantId: string; taskId: string },
  treeId: string,
): Promise<string | undefined> {
  const [counted] = await db
    .select({ id: gateResults.id })
    .from(gateResults)
    .where(
      and(
        eq(gateResults.tenantId, task.tenantId),
        eq(gateResults.taskId, task.taskId),
        eq(gateResults.name, 'budget'),
        eq(gateResults.treeId, treeId),
        sql`position(${BASE_COUNTED} in ${gateResults.detail}) > 0`,
      ),
    )
    .limit(1);
  return counted ? `the change's budget counts ${BASE_COUNTED}, which no waiver raises` : undefined;
}

/** Builds `loadApproverKeys`, `authorizeWaiverDecision` and `storeWaiver`. */
export function createWaiverActivities({ db }: ActivityDeps) {
  return {
    async loadApproverKeys(raw: LoadApproverKeysInput): Promise<RegisteredKey[]> {
      const input = parseActivityInput(LoadApproverKeysInput, raw);
      return approverKeys(db, input.tenantId);
    },

    /**
     * The authoritative check, after the workflow's validator: the key is still the approver's
     * registered key (not revoked since the task read the keys), and the approver within the rate limit.
     */
    async authorizeWaiverDecision(raw: AuthorizeWaiverDecisionInput): Promise<void> {
      const input = parseActivityInput(AuthorizeWaiverDecisionInput, raw);
      await requireOwnTask(db, input, currentRun(), { open: true });
      // A retry of a decision this activity already recorded (the worker died before completing) counts nothing again.
      if (await alreadyRecorded(db, input)) return;
      const problem = await refusal(db, input);
      if (problem) throw new WaiverNotAuthorizedError(problem);
      const { claim, keyId, signature } = input.signed;
      await recordDecision(db, {
        tenantId: input.tenantId,
        taskId: input.taskId,
        approver: claim.approver,
        decision: claim.decision,
        detail: { keyId, signature, claim },
      });
      log.info('waiver decision authorised', { approver: claim.approver, decision: claim.decision, keyId });
    },

    async storeWaiver(raw: StoreWaiverInput): Promise<void> {
      const input = parseActivityInput(StoreWaiverInput, raw);
      const run = currentRun();
      const { runId } = run;
      await requireOwnTask(db, input, run, { open: true });
      if (input.waiverId !== taskWaiverId(input.taskId))
        throw new WaiverNotAuthorizedError(
          `a task's waiver is stored as ${taskWaiverId(input.taskId)}, not ${JSON.stringify(input.waiverId)}`,
        );
      // A retry of this run's store that happened is not judged again (the approvals counted when it was stored).
      const stored = await getWaiver(db, input.tenantId, input.waiverId);
      const { treeId, patchDigest } = input.approvals[0].claim;
      const patch = await storedPatchStats(db, input, { treeId, digest: patchDigest });
      const judging = await judgingTerms(db, { ...input, runId });
      if (stored?.usedByTask !== input.taskId || stored.usedByRun !== runId) {
        const lapsed = await lapsedApprovals(db, input);
        if (lapsed.length)
          throw new WaiverNotAuthorizedError(`the waiver's approvals no longer all count: ${lapsed.join('; ')}`);
        const unmet =
          (await policyWaiverProblem(db, { ...input, runId }, input, patch, judging)) ??
          (await decisionRecordProblem(db, input, { runId, treeId })) ??
          (await baseCountedProblem(db, input, treeId));
        if (unmet) throw new WaiverNotAuthorizedError(unmet);
      }
      // What the row records and the verdict quotes is what was signed and measured, on every store.
      const unsigned =
        unsignedTermsProblem(input) ??
        (typeof judging === 'object' && patch?.stats
          ? budgetDetailProblem(input, patch.stats, judging.spec, judging.policy)
          : undefined);
      if (unsigned) throw new WaiverNotAuthorizedError(unsigned);
      const approverList = await recordedApprovers(db, input);
      const inserted = await insertWaiver(db, {
        tenantId: input.tenantId,
        id: input.waiverId,
        taskId: input.taskId,
        title: `Budget waiver for ${input.specId} (task ${input.taskId})`,
        specId: input.specId,
        gates: input.gates,
        delta: { max_files: input.delta.maxFiles, max_loc: input.delta.maxLoc },
        reasonCode: input.reasonCode,
        justification: input.justification,
        approvers: approverList,
        approvals: input.approvals,
        riskTier: typeof judging === 'object' ? judging.spec.riskTier : input.riskTier,
        // The run it was approved for is its one use.
        usedByTask: input.taskId,
        usedByRun: runId,
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
            eq(gateResults.name, 'budget'),
            // The waiver covers the change it was asked for: the tree its approvals name (a run reset past
            // verification holds its predecessor's rows), or, for rows stored before they named a tree,
            // this run's last attempt.
            or(
              and(eq(gateResults.treeId, treeId), fromBaseOf(patch)),
              and(
                isNull(gateResults.treeId),
                eq(gateResults.runId, runId),
                sql`${gateResults.attempt} = (SELECT max(g.attempt) FROM ${gateResults} g WHERE g.tenant_id = ${input.tenantId} AND g.task_id = ${input.taskId} AND g.run_id = ${runId})`,
              ),
            ),
          ),
        );
      await recordRunEvent(db, { ...input, runId }, 'waiver', 'waiver.approved', {
        waiverId: input.waiverId,
        delta: input.delta,
        approvers: input.approvals.map((a) => ({ approver: a.claim.approver, keyId: a.keyId })),
        reasonCode: input.reasonCode,
        expiresAt: input.expiresAt,
      });
    },
  };
}
