/**
 * Human waivers in the CAWS shape. A task whose only blocking failures policy lets be waived
 * (the budget) waits in VERIFYING for people to approve or reject it through Temporal updates
 * carrying signed decisions (domain/approval.ts).
 */
import type { PatchStats } from './diff';
import { arbiterGateName } from './gate-names';

/** CAWS's controlled vocabulary for why a waiver is needed. */
export const WAIVER_REASON_CODES = [
  'emergency_hotfix',
  'legacy_integration',
  'experimental_feature',
  'third_party_constraint',
  'performance_critical',
  'security_patch',
  'infrastructure_limitation',
  'architectural_refactor',
  'other',
] as const;

/** Gates a waiver may cover (Arbiter names); others must pass on their own. */
export const WAIVABLE_GATES = ['budget'];

/**
 * The one id a task's granted waiver is stored under. Chosen by the caller, a run of one's own
 * stored its waiver under another task's id first, and that task's granted waiver then failed (found in review).
 */
export const taskWaiverId = (taskId: string): string => `WV-${taskId}`;

/**
 * How the budget gate names a count that takes in the changes of a base off the trusted ref
 * (change-gates.ts `BaseChanges`): a waiver's approvals size the agent's change alone, so such a
 * budget is never waived.
 */
export const BASE_COUNTED = "the delivered branch, with its base's changes off the trusted ref";

/** Longest expiry a waiver may have. */
export const MAX_WAIVER_DAYS = 90;

/** What the task is asking people to approve, shown in `status`, the query and the UI. */
export interface WaiverRequest {
  /** The run, spec and exact change a signed decision must name (with the tenant, task, gates and delta). */
  runId: string;
  specId: string;
  treeId: string;
  patchDigest: string;
  gates: string[];
  /** The budget increase needed for the measured change to pass. */
  delta: { maxFiles: number; maxLoc: number };
  riskTier: number;
  approversRequired: number;
  approvals: Array<{ approver: string; keyId: string; reasonCode: string; at: string }>;
  deadline: string;
  /** The policy's longest allowed expiry, in hours. */
  maxExpiryHours: number;
}

/** The outcome of one update, returned to whoever sent it. */
export interface WaiverDecisionResult {
  status: 'pending' | 'approved' | 'rejected';
  approvals: number;
  approversRequired: number;
  waiverId?: string;
}

/** Parses a `1h` / `3d` / `45m` duration into hours, for the CLI. */
export function durationHours(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([mhd])$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === 'm' ? n / 60 : m[2] === 'h' ? n : n * 24;
}

/** A stored waiver as a spec's `waiver_ids` would use it. */
export interface StoredWaiverTerms {
  id: string;
  status: string;
  expiresAt: Date;
  specId: string | null;
  gates: string[];
  usedByTask: string | null;
  usedByRun: string | null;
}

/**
 * Why a waiver named in a spec's `waiver_ids` must not raise this run's budget, or undefined
 * when it may: active, unexpired, approved for this spec id and for the budget gate, and not
 * used by any other run (a waiver applies once).
 */
export function waiverUseProblem(
  w: StoredWaiverTerms,
  use: { specId: string; taskId: string; runId: string },
  now: Date,
): string | undefined {
  if (w.status !== 'active') return `${w.id} is ${w.status}`;
  if (w.expiresAt <= now) return `${w.id} expired at ${w.expiresAt.toISOString()}`;
  if (!w.specId) return `${w.id} was not approved for any spec`;
  if (w.specId !== use.specId) return `${w.id} was approved for spec ${w.specId}, not ${use.specId}`;
  if (!w.gates.map(arbiterGateName).includes('budget'))
    return `${w.id} covers ${w.gates.join(', ') || 'no gate'}, not the budget`;
  const ours = w.usedByTask === use.taskId && w.usedByRun === use.runId;
  if (w.usedByRun && !ours) return `${w.id} was already used by task ${w.usedByTask} (run ${w.usedByRun})`;
  return undefined;
}

/** The terms of a signed approval a granted waiver takes (domain/approval.ts signs them). */
interface SignedTerms {
  claim: { reasonCode?: string; justification?: string; expiresAt: string };
}

/**
 * What a granted waiver records of its approvals: the first one's reason code, every approver's
 * justification, and the earliest expiry. Worked out from the signed decisions alone, by the
 * workflow and again by the worker that stores it, which refuses other terms: stored as handed
 * over, a waiver named approvers, reasons and an expiry nobody signed.
 */
export function grantedTerms(approvals: readonly SignedTerms[]): {
  reasonCode: string;
  justification?: string;
  expiresAt: string;
} {
  const justification = approvals
    .map((a) => a.claim.justification)
    .filter(Boolean)
    .join('\n');
  return {
    reasonCode: approvals[0].claim.reasonCode ?? 'other',
    ...(justification ? { justification } : {}),
    expiresAt: new Date(Math.min(...approvals.map((a) => Date.parse(a.claim.expiresAt)))).toISOString(),
  };
}

/** The budget gate's words once a waiver passes it: the change against its budget, and the waiver. */
export function waivedBudgetDetail(
  stats: Pick<PatchStats, 'filesChanged' | 'linesAdded' | 'linesDeleted' | 'bytesAdded'>,
  budget: { maxFiles: number; maxLoc: number; maxBytes: number },
  waiver: { id: string; delta: { maxFiles: number; maxLoc: number } },
): string {
  const lines = stats.linesAdded + stats.linesDeleted;
  const { delta } = waiver;
  return `${stats.filesChanged}/${budget.maxFiles} files, ${lines}/${budget.maxLoc} lines, ${stats.bytesAdded}/${budget.maxBytes} bytes: waived by ${waiver.id} (+${delta.maxFiles} files, +${delta.maxLoc} lines)`;
}
