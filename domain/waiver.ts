/**
 * Human waivers in the CAWS shape. A task whose only blocking failures policy lets be waived
 * (the budget) waits in VERIFYING for people to approve or reject it through Temporal updates;
 * these schemas are the updates' validators, so malformed input is refused before anything is
 * written to history.
 */
import { z } from 'zod';

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

/** Longest expiry a waiver may have. */
export const MAX_WAIVER_DAYS = 90;

const Approver = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'approver must be a handle or email');

/** `approveWaiver` update input. */
export const ApproveWaiverSchema = z
  .object({
    approver: Approver,
    reasonCode: z.enum(WAIVER_REASON_CODES),
    justification: z.string().max(1000).optional(),
    /** Hours until the waiver expires (at most MAX_WAIVER_DAYS). */
    expiresInHours: z
      .number()
      .positive()
      .max(MAX_WAIVER_DAYS * 24),
  })
  .strict();
/** Input of `approveWaiver`. */
export type ApproveWaiver = z.infer<typeof ApproveWaiverSchema>;

/** `rejectWaiver` update input. */
export const RejectWaiverSchema = z.object({ approver: Approver, reason: z.string().min(1).max(1000) }).strict();
/** Input of `rejectWaiver`. */
export type RejectWaiver = z.infer<typeof RejectWaiverSchema>;

/** What the task is asking people to approve, shown in `status`, the query and the UI. */
export interface WaiverRequest {
  gates: string[];
  /** The budget increase needed for the measured change to pass. */
  delta: { maxFiles: number; maxLoc: number };
  riskTier: number;
  approversRequired: number;
  approvals: Array<{ approver: string; reasonCode: string; at: string }>;
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
