/**
 * What a waiver must agree with before it is stored: the terms its signed approvals give, and the
 * decisions recorded for its task. `storeWaiver` took approvers, reason code, justification, expiry
 * and the budget's signed detail as handed over, and read no record of decisions: workflow code of
 * an insider's own stored a waiver naming a CTO who never signed, past a recorded rejection, with
 * approvals never authorised (so past the approvers' rate limit), and the verdict quoted a budget
 * detail that said "within budget" (found in review).
 */
import { and, eq } from 'drizzle-orm';
import type { StoreWaiverInput } from '../domain/activity-io';
import type { SignedDecision } from '../domain/approval';
import type { PatchStats } from '../domain/diff';
import { effectiveBudget } from '../domain/policy';
import type { RepoPolicy } from '../domain/repo-policy';
import type { WorkingSpec } from '../domain/spec';
import { grantedTerms, WAIVABLE_GATES, waivedBudgetDetail } from '../domain/waiver';
import { canonicalJson } from '../domain/canonical';
import type { Db } from '../db/client';
import { waiverDecisions } from '../db/schema';

type Input = ReturnType<typeof StoreWaiverInput.parse>;

/** How the terms handed over (spec, gates, reason, expiry) differ from the approvals' own, and the approvers named from those who signed. */
export function unsignedTermsProblem(input: Input): string | undefined {
  const terms = grantedTerms(input.approvals);
  if (
    input.reasonCode !== terms.reasonCode ||
    input.justification !== terms.justification ||
    Date.parse(input.expiresAt) !== Date.parse(terms.expiresAt)
  )
    return `its reason code, justification or expiry is not what its approvals signed (${terms.reasonCode}, until ${terms.expiresAt})`;
  // A waiver passes the budget gate alone (`storeWaiver`): a row naming others would say more was waived than was.
  if (canonicalJson(input.gates) !== canonicalJson(WAIVABLE_GATES))
    return `it names gates ${input.gates.join(', ') || 'none'}; a waiver covers ${WAIVABLE_GATES.join(', ')} alone`;
  const otherwise = input.approvals.find(
    ({ claim }) => claim.specId !== input.specId || canonicalJson(claim.gates) !== canonicalJson(input.gates),
  );
  if (otherwise)
    return `it names spec ${input.specId} and gates ${input.gates.join(', ') || 'none'}; ${otherwise.claim.approver} signed spec ${otherwise.claim.specId} and gates ${otherwise.claim.gates.join(', ')}`;
  const signers = input.approvals.map((a) => `${a.claim.approver} (${a.keyId})`).sort();
  const named = input.approvers.map((a) => `${a.approver} (${a.keyId})`).sort();
  if (signers.join(', ') !== named.join(', '))
    return `it names approvers ${named.join(', ') || 'none'}, not those who signed: ${signers.join(', ')}`;
  return undefined;
}

/** How the budget's detail handed over differs from the words the stored measurement gives. */
export function budgetDetailProblem(
  input: Input,
  stats: PatchStats,
  spec: Pick<WorkingSpec, 'riskTier' | 'changeBudget'>,
  policy: RepoPolicy,
): string | undefined {
  const budget = effectiveBudget({ spec, tierBudgets: policy.tiers });
  const maxBytes = policy.tiers[spec.riskTier].maxBytes;
  const expected = waivedBudgetDetail(stats, { ...budget, maxBytes }, { id: input.waiverId, delta: input.delta });
  return input.budgetDetail === expected
    ? undefined
    : `its budget detail is not the stored measurement's: '${expected}'`;
}

/**
 * Why the decisions recorded for the task forbid this waiver: a rejection of the same run's
 * change, or an approval `authorizeWaiverDecision` never checked and recorded.
 */
export async function decisionRecordProblem(
  db: Db,
  input: Input,
  change: { runId: string; treeId: string },
): Promise<string | undefined> {
  const decided = await taskDecisions(db, input);
  const rejection = decided.find(
    (r) => r.decision === 'reject' && r.signed.claim?.runId === change.runId && r.signed.claim.treeId === change.treeId,
  );
  if (rejection) return `${rejection.approver} rejected this change's waiver, and the rejection is recorded`;
  const recorded = new Set(decided.map((r) => r.signed.signature));
  const unrecorded = input.approvals.find((a) => !recorded.has(a.signature));
  if (unrecorded)
    return `the approval by ${unrecorded.claim.approver} was never authorised (each decision is checked and recorded as it counts)`;
  return undefined;
}

/** The decisions recorded for the task, each with its signed form and when it was recorded. */
async function taskDecisions(db: Db, task: { tenantId: string; taskId: string }) {
  const rows = await db
    .select({
      decision: waiverDecisions.decision,
      approver: waiverDecisions.approver,
      detail: waiverDecisions.detail,
      at: waiverDecisions.createdAt,
    })
    .from(waiverDecisions)
    .where(and(eq(waiverDecisions.tenantId, task.tenantId), eq(waiverDecisions.taskId, task.taskId)));
  return rows.map((r) => ({ ...r, signed: r.detail as Partial<SignedDecision> }));
}

/**
 * The CAWS `approvers` list of a stored waiver: each signer, its key, and when its approval was
 * recorded (handed over, the times were the caller's to choose). An approval stored before its
 * record keeps the time the workflow counted it at.
 */
export async function recordedApprovers(
  db: Db,
  input: Input,
): Promise<Array<{ handle: string; approved_at: string; key_id: string }>> {
  const at = new Map((await taskDecisions(db, input)).map((r) => [r.signed.signature, r.at]));
  return input.approvals.map((a) => ({
    handle: a.claim.approver,
    approved_at:
      at.get(a.signature)?.toISOString() ?? input.approvers.find((n) => n.approver === a.claim.approver)?.at ?? '',
    key_id: a.keyId,
  }));
}
