/**
 * The waiver desk: when the only blocking failures are gates policy lets be waived, the task
 * pauses in VERIFYING (`awaiting_waiver`) and asks for approval through the `approveWaiver` /
 * `rejectWaiver` updates. Validators refuse malformed input before it reaches history;
 * authorisation is checked against PostgreSQL; tier 1 needs two distinct approvers; a durable
 * timer fails the task when nobody decides within the policy's window.
 */
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { ValidateSpecResult } from '../domain/activity-io';
import type { RepoPolicy } from '../domain/repo-policy';
import { effectiveBudget, requiredApprovers } from '../domain/policy';
import type { GateResult, TaskError, TaskSnapshot } from '../domain/task';
import {
  ApproveWaiverSchema,
  RejectWaiverSchema,
  WAIVABLE_GATES,
  type ApproveWaiver,
  type WaiverDecisionResult,
  type WaiverRequest,
} from '../domain/waiver';
import { authorizeWaiverDecision, storeWaiver } from './activity-proxies';
import { approveWaiverUpdate, rejectWaiverUpdate } from './definitions';

type Decision =
  { kind: 'approved'; approvals: ApproveWaiver[] } | { kind: 'rejected'; approver: string; reason: string };

/** True when every blocking failure is one a waiver may cover. */
export function waivable(gates: readonly GateResult[]): boolean {
  const failing = gates.filter((g) => g.status === 'fail');
  return failing.length > 0 && failing.every((g) => WAIVABLE_GATES.includes(g.name));
}

/**
 * What the desk needs of its task: the task's key, the snapshot's change and pending waiver to
 * read, and the task's own methods to change them. The task run owns its state; the desk asks.
 */
export interface WaiverTask {
  readonly input: { tenantId: string; taskId: string };
  readonly snapshot: Pick<Readonly<TaskSnapshot>, 'diff' | 'pendingWaiver'>;
  openWaiver(request: WaiverRequest): void;
  addWaiverApproval(approval: WaiverRequest['approvals'][number]): void;
  closeWaiver(): WaiverRequest | null;
  waiveGate(name: string, detail: string): void;
}

/** Owns the pending request and the two update handlers of one task. */
export class WaiverDesk {
  private decision: Decision | undefined;
  private approvals: ApproveWaiver[] = [];

  constructor(private readonly task: WaiverTask) {}

  /** Registers the updates; before a waiver is pending they are refused by their validators. */
  register(): void {
    setHandler(approveWaiverUpdate, (input) => this.approve(input), {
      validator: (input) => {
        const parsed = ApproveWaiverSchema.parse(input);
        this.validate(parsed.approver);
        const max = this.task.snapshot.pendingWaiver?.maxExpiryHours ?? Infinity;
        if (parsed.expiresInHours > max)
          throw new Error(`expiresInHours ${parsed.expiresInHours} exceeds the policy maximum of ${max} hours`);
      },
    });
    setHandler(rejectWaiverUpdate, (input) => this.reject(input.approver, input.reason), {
      validator: (input) => this.validate(RejectWaiverSchema.parse(input).approver),
    });
  }

  private validate(approver: string): void {
    const pending = this.task.snapshot.pendingWaiver;
    if (!pending || this.decision) throw new Error('no waiver is pending for this task');
    if (pending.approvals.some((a) => a.approver === approver))
      throw new Error(`'${approver}' has already approved this waiver; another approver is needed`);
  }

  private result(): WaiverDecisionResult {
    const pending = this.task.snapshot.pendingWaiver;
    const status = this.decision?.kind ?? 'pending';
    return { status, approvals: this.approvals.length, approversRequired: pending?.approversRequired ?? 0 };
  }

  /** The pending request, once `approver`'s decision is authorised and recorded; refused when none is pending. */
  private async authorize(
    approver: string,
    decision: 'approve' | 'reject',
    detail: Record<string, unknown>,
  ): Promise<WaiverRequest> {
    const pending = this.task.snapshot.pendingWaiver;
    if (!pending) throw ApplicationFailure.nonRetryable('no waiver is pending for this task');
    const { tenantId, taskId } = this.task.input;
    await authorizeWaiverDecision({ tenantId, taskId, approver, riskTier: pending.riskTier, decision, detail });
    return pending;
  }

  private async approve(input: ApproveWaiver): Promise<WaiverDecisionResult> {
    const pending = await this.authorize(input.approver, 'approve', { reasonCode: input.reasonCode });
    if (this.decision || pending.approvals.some((a) => a.approver === input.approver)) return this.result();
    this.approvals.push(input);
    this.task.addWaiverApproval({
      approver: input.approver,
      reasonCode: input.reasonCode,
      at: new Date().toISOString(),
    });
    if (pending.approvals.length >= pending.approversRequired)
      this.decision = { kind: 'approved', approvals: this.approvals };
    return this.result();
  }

  private async reject(approver: string, reason: string): Promise<WaiverDecisionResult> {
    await this.authorize(approver, 'reject', { reason });
    if (!this.decision) this.decision = { kind: 'rejected', approver, reason };
    return this.result();
  }

  /**
   * Asks for a waiver covering the budget overage and waits. Returns the applied waiver's id,
   * or the error the task fails with (rejected, or no decision in time).
   */
  async request(
    validated: ValidateSpecResult,
    policy: RepoPolicy,
  ): Promise<{ waiverId: string } | { error: TaskError }> {
    const { spec } = validated;
    const diff = this.task.snapshot.diff!;
    const budget = effectiveBudget({ spec, tierBudgets: policy.tiers });
    const lines = diff.linesAdded + diff.linesDeleted;
    const maxBytes = policy.tiers[spec.riskTier].maxBytes;
    // The byte budget is the backstop for content hidden from line counts; CAWS waivers raise files and lines only.
    if (diff.bytesAdded > maxBytes)
      return {
        error: {
          type: 'ByteBudgetNotWaivable',
          message: `the change adds ${diff.bytesAdded} bytes, over the byte budget of ${maxBytes}, which no waiver raises`,
        },
      };
    const delta = {
      maxFiles: Math.max(0, diff.filesChanged - budget.maxFiles),
      maxLoc: Math.max(0, lines - budget.maxLoc),
    };
    const hours = policy.waivers.windowHours;
    this.task.openWaiver({
      gates: ['budget'],
      delta,
      riskTier: spec.riskTier,
      approversRequired: requiredApprovers(spec.riskTier, policy.waivers.minApprovers),
      approvals: [],
      deadline: new Date(Date.now() + hours * 3_600_000).toISOString(),
      maxExpiryHours: policy.waivers.maxExpiryDays * 24,
    });
    const decided = await condition(() => this.decision !== undefined, hours * 3_600_000);
    const pending = this.task.closeWaiver();
    if (!decided || !this.decision)
      return { error: { type: 'WaiverExpired', message: `no waiver decision within ${hours} hour(s)` } };
    if (this.decision.kind === 'rejected')
      return {
        error: {
          type: 'WaiverRejected',
          message: `waiver rejected by ${this.decision.approver}: ${this.decision.reason}`,
        },
      };
    const { tenantId, taskId } = this.task.input;
    const waiverId = `WV-${taskId}`;
    const expiresInHours = Math.min(...this.decision.approvals.map((a) => a.expiresInHours));
    const budgetDetail = `${diff.filesChanged}/${budget.maxFiles} files, ${lines}/${budget.maxLoc} lines, ${diff.bytesAdded}/${maxBytes} bytes: waived by ${waiverId} (+${delta.maxFiles} files, +${delta.maxLoc} lines)`;
    await storeWaiver({
      tenantId,
      taskId,
      waiverId,
      specId: spec.id,
      gates: pending?.gates ?? ['budget'],
      delta,
      reasonCode: this.decision.approvals[0].reasonCode,
      justification:
        this.decision.approvals
          .map((a) => a.justification)
          .filter(Boolean)
          .join('\n') || undefined,
      approvers: pending?.approvals.map((a) => ({ approver: a.approver, at: a.at })) ?? [],
      expiresAt: new Date(Date.now() + expiresInHours * 3_600_000).toISOString(),
      budgetDetail,
    });
    this.task.waiveGate('budget', budgetDetail);
    return { waiverId };
  }
}
