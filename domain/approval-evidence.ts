/**
 * What signed approvals prove once they are stored: in a verdict (every reader checks the
 * waiver it states was approved, by enough people, for this very run) and in a stored waiver a
 * spec names in `waiver_ids` (it applies only if its approvals still stand: valid signatures
 * by keys registered now, for its spec and delta, enough distinct approvers for the tier).
 */
import { canonicalJson } from './canonical';
import {
  requestMismatch,
  requestTermsOf,
  signatureValid,
  SignedDecisionSchema,
  type RegisteredKey,
  type SignedDecision,
} from './approval';

/** What a verdict's evidence says about the run its approvals must name. */
export interface ApprovedRun {
  tenantId: string;
  taskId: string;
  specId: string;
  outcome: string;
  run: { runId: string };
  diff: { treeId: string; digest: string };
  approvals?: readonly SignedDecision[];
}

/**
 * Each way a verdict's approvals fail to prove its waiver, for every reader of a verdict
 * (`verdict verify`, delivery): a WAIVED verdict needs as many distinct approvers, each with a
 * distinct key, as its tier's floor (`minimum`: two at tier 1); each approval must be a valid
 * signature over an approval of this very run, tree and patch.
 */
export function approvalProblems(evidence: ApprovedRun, minimum = 1): string[] {
  const approvals = evidence.approvals ?? [];
  const problems: string[] = [];
  const people = new Set(approvals.map((a) => a?.claim?.approver));
  if (evidence.outcome === 'WAIVED' && people.size < minimum)
    problems.push(`the verdict is WAIVED with ${people.size} distinct approver(s); its tier needs at least ${minimum}`);
  if (people.size < approvals.length) problems.push('an approver is counted more than once');
  const seen = new Set<string>();
  for (const raw of approvals) {
    const parsed = SignedDecisionSchema.safeParse(raw);
    const who = `the approval by ${String(raw?.claim?.approver)} (${String(raw?.keyId)})`;
    if (!parsed.success) {
      problems.push(`${who} is malformed`);
      continue;
    }
    const a = parsed.data;
    if (a.claim.decision !== 'approve') problems.push(`${who} is a ${a.claim.decision}, not an approval`);
    if (!signatureValid(a)) problems.push(`${who}: the signature does not verify`);
    // An approval made in this task is of this run's exact change; one from another task's
    // waiver (a spec's waiver_ids) must at least be for this tenant's spec.
    const own = a.claim.taskId === evidence.taskId;
    const mismatch = requestMismatch(requestTermsOf(a.claim), {
      ...requestTermsOf(a.claim),
      tenantId: evidence.tenantId,
      specId: evidence.specId,
      ...(own ? { runId: evidence.run.runId, treeId: evidence.diff.treeId, patchDigest: evidence.diff.digest } : {}),
    });
    if (mismatch) problems.push(`${who}: ${mismatch.replace('the pending waiver', 'the verdict')}`);
    if (seen.has(a.keyId)) problems.push(`${who}: the key ${a.keyId} approved twice`);
    seen.add(a.keyId);
  }
  return problems;
}

/** What a stored waiver must have been approved for, and by whom it may be approved now. */
export interface StoredWaiverApproval {
  tenantId: string;
  specId: string;
  delta: { maxFiles: number; maxLoc: number };
  riskTier: number;
  required: number;
  keyring: readonly RegisteredKey[];
  /**
   * The change it would pass: an approval made in this task is of one run's exact change, as every
   * reader of the verdict holds it ({@link approvalProblems}), so it passes no other.
   */
  change: { taskId: string; runId: string; treeId: string };
}

/**
 * Why a stored waiver's approvals do not grant it now, or undefined when they do: each a valid
 * signature by the approver's key registered now at the tier, approving this tenant's spec and
 * exactly this delta (and, made in this task, this run's change), from enough distinct people and keys.
 */
export function storedApprovalsProblem(approvals: readonly unknown[], w: StoredWaiverApproval): string | undefined {
  const good = new Map<string, string>();
  for (const raw of approvals) {
    const parsed = SignedDecisionSchema.safeParse(raw);
    if (!parsed.success) return 'one of its approvals is malformed';
    const { claim, keyId } = parsed.data;
    const who = `the approval by ${claim.approver}`;
    if (claim.decision !== 'approve' || !signatureValid(parsed.data)) return `${who} is not a valid signed approval`;
    if (claim.tenantId !== w.tenantId || claim.specId !== w.specId) return `${who} is for another tenant or spec`;
    if (canonicalJson(claim.delta) !== canonicalJson(w.delta)) return `${who} approved another delta`;
    const { change } = w;
    if (claim.taskId === change.taskId && (claim.runId !== change.runId || claim.treeId !== change.treeId))
      return `${who} is for tree ${claim.treeId} of run ${claim.runId}, not this change (tree ${change.treeId} of run ${change.runId})`;
    const key = w.keyring.find((k) => k.approver === claim.approver);
    if (key?.keyId !== keyId || !key.tiers.includes(w.riskTier))
      return `${who} is not by a key registered now for that approver at tier ${w.riskTier}`;
    good.set(claim.approver, keyId);
  }
  const people = good.size;
  const keys = new Set(good.values()).size;
  if (Math.min(people, keys) < w.required)
    return `it carries ${Math.min(people, keys)} valid signed approval(s); tier ${w.riskTier} needs ${w.required}`;
  return undefined;
}
