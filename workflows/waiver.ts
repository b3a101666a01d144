/**
 * The waiver desk: when the only blocking failures are gates policy lets be waived, the task
 * pauses in VERIFYING (`awaiting_waiver`) and asks for signed decisions through the
 * `approveWaiver` / `rejectWaiver` updates. The validators check each signature against the
 * tenant's registered approver keys (read when the waiver opens, and again on
 * `approversChanged`), the exact request of this run and the policy's limits, so a forged,
 * replayed, mis-bound or expired decision never reaches history; the handler re-checks the key
 * against PostgreSQL. Tier 1 needs two distinct keys; a durable timer fails the task when nobody
 * decides within the policy's window.
 */
import { countWaiverDecided } from './task-metrics';
import { ApplicationFailure, CancellationScope, condition, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { oneArgument } from './update-arguments';
import { hasOwnPatch, hasPatch } from './patches';
import {
  decisionProblem,
  lapseProblem,
  SignedDecisionSchema,
  type RegisteredKey,
  type SignedDecision,
  type WaiverRequestTerms,
} from '../domain/approval';
import type { SpecEssentials } from '../domain/activity-io';
import type { RepoPolicy } from '../domain/repo-policy';
import { effectiveBudget, requiredApprovers } from '../domain/policy';
import type { GateResult, TaskError, TaskSnapshot } from '../domain/task';
import {
  grantedTerms,
  waivedBudgetDetail,
  WAIVABLE_GATES,
  BASE_COUNTED,
  taskWaiverId,
  type WaiverDecisionResult,
  type WaiverRequest,
} from '../domain/waiver';
import { zodProblems } from '../domain/zod-issues';
import { authorizeWaiverDecision, loadApproverKeys, storeWaiver } from './activity-proxies';
import { approversChangedSignal, approveWaiverUpdate, rejectWaiverUpdate } from './definitions';

type Decision = { kind: 'approved'; approvals: SignedDecision[] } | { kind: 'rejected'; signed: SignedDecision };

/** Largest signed decision (JSON characters) the validator parses. */
const MAX_DECISION_CHARACTERS = 16 * 1024;
/** A granted waiver; its signed approvals are stored with it, and the verdict reads them from there. */
export interface GrantedDeskWaiver {
  waiverId: string;
}

/**
 * True when every blocking failure is one a waiver may cover: a budget that counts no base's
 * changes off the trusted ref. A run recorded before such budgets were refused asks as it did.
 */
export function waivable(gates: readonly GateResult[]): boolean {
  const failing = gates.filter((g) => g.status === 'fail');
  if (failing.length === 0 || !failing.every((g) => WAIVABLE_GATES.includes(g.name))) return false;
  return !(failing.some((g) => g.detail.includes(BASE_COUNTED)) && hasOwnPatch('base-counted-not-waivable'));
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
  withdrawWaiverApproval(keyId: string): void;
  closeWaiver(): WaiverRequest | null;
  waiveGate(name: string, detail: string): void;
}

/** Owns the pending request, the approvers' keys it is judged by, and the update handlers of one task. */
export class WaiverDesk {
  private decision: Decision | undefined;
  private approvals: SignedDecision[] = [];
  private keyring: RegisteredKey[] = [];
  private keyringStale = false;
  /** Approvers and keys whose decision is queued or being authorised: a copy sent meanwhile is refused, not run twice. */
  private readonly inFlight = new Set<string>();
  /** One decision is authorised at a time, so none is recorded after another settled the request. */
  private authorizing = false;
  /** Set once the desk stops taking decisions (decided, timed out or cancelled); never cleared. */
  private closed = false;
  /** Set when the window ends, while the decision being authorised then is waited for: a queued one is refused. */
  private closing = false;
  /** When the window ends (workflow time); a decision that arrives then or later is refused. */
  private deadline: number | undefined;
  /** Decisions wait their turn and the desk closes after the one in flight; false only replaying runs recorded before. */
  private serial = false;

  constructor(private readonly task: WaiverTask) {}

  /** Registers the updates; before a waiver is pending they are refused by their validators. */
  register(): void {
    setHandler(approveWaiverUpdate, (input) => this.approve(input), {
      validator: oneArgument((input) => this.validate(input, 'approve')),
    });
    setHandler(rejectWaiverUpdate, (input) => this.reject(input), {
      validator: oneArgument((input) => this.validate(input, 'reject')),
    });
    setHandler(approversChangedSignal, () => {
      this.keyringStale = true;
    });
  }

  /** The request every decision must name, exactly. */
  private requestTerms(pending: WaiverRequest): WaiverRequestTerms {
    const { tenantId, taskId } = this.task.input;
    const { runId, specId, treeId, patchDigest, gates, delta } = pending;
    return { tenantId, taskId, runId, specId, treeId, patchDigest, gates, delta };
  }

  private validate(input: unknown, decision: 'approve' | 'reject'): void {
    // Anyone with namespace access can send an update of up to 2 MB; a real decision is a few KB,
    // and parsing a million-element list in the workflow thread took seconds.
    const size = JSON.stringify(input ?? null).length;
    if (size > MAX_DECISION_CHARACTERS)
      throw new Error(`a decision of ${size} characters; at most ${MAX_DECISION_CHARACTERS}`);
    const parsed = SignedDecisionSchema.safeParse(input);
    if (!parsed.success) throw new Error(zodProblems(parsed.error).join('; '));
    const pending = this.task.snapshot.pendingWaiver;
    if (!pending || this.decision || this.closed || this.closing) throw new Error('no waiver is pending for this task');
    // Timers fire after the updates of the same workflow task: one arriving with the deadline's timer was taken.
    if (this.deadline !== undefined && Date.now() >= this.deadline) throw new Error('the waiver window has closed');
    const lapsed = this.lapsed(pending);
    const problem = decisionProblem(parsed.data, {
      decision,
      expected: this.requestTerms(pending),
      riskTier: pending.riskTier,
      keyring: this.keyring,
      prior: pending.approvals.filter((p) => !lapsed.some((l) => l.keyId === p.keyId)),
      now: Date.now(),
      maxExpiryHours: pending.maxExpiryHours,
    });
    if (problem) throw new Error(problem);
    const { approver } = parsed.data.claim;
    if (this.inFlight.has(approver) || this.inFlight.has(parsed.data.keyId))
      throw new Error(`a decision by '${approver}' or key ${parsed.data.keyId} is already being authorised`);
  }

  private result(): WaiverDecisionResult {
    const pending = this.task.snapshot.pendingWaiver;
    const status = this.decision?.kind ?? 'pending';
    return { status, approvals: this.approvals.length, approversRequired: pending?.approversRequired ?? 0 };
  }

  /**
   * Confirms the signed decision's key in PostgreSQL (which records the decision), then `settle`s
   * the pending request with it. Decisions are authorised one at a time; one that waited behind
   * another is refused, with nothing recorded, if the request was settled or its window closed meanwhile.
   */
  private async decide(
    signed: SignedDecision,
    settle: (pending: WaiverRequest) => void,
  ): Promise<WaiverDecisionResult> {
    const { tenantId, taskId } = this.task.input;
    const held = [signed.claim.approver, signed.keyId];
    held.forEach((k) => this.inFlight.add(k));
    try {
      if (this.serial) {
        await condition(() => !this.authorizing);
        // Every queued decision is released together when the one ahead ends: the first to run takes the
        // turn and the rest queue again (before, they were authorised side by side, and a quorum-completing
        // approval overtook a rejection queued before it).
        while (this.authorizing && hasOwnPatch('decisions-strictly-in-turn')) await condition(() => !this.authorizing);
      }
      const pending = this.task.snapshot.pendingWaiver;
      // Queued behind the decision the closing desk waited for, it ran before the desk had closed.
      const closing =
        this.serial &&
        this.closing &&
        !this.decision &&
        !this.closed &&
        hasOwnPatch('queued-decision-refused-at-close');
      if (!pending || (this.serial && (this.decision || this.closed || closing)))
        throw ApplicationFailure.nonRetryable(
          'no waiver is pending for this task: it was decided or its window closed',
        );
      this.authorizing = true;
      try {
        await authorizeWaiverDecision({ tenantId, taskId, riskTier: pending.riskTier, signed });
        settle(pending);
      } finally {
        this.authorizing = false;
      }
      return this.result();
    } finally {
      held.forEach((k) => this.inFlight.delete(k));
    }
  }

  /** The approvals given earlier that no longer count now, each with why (see {@link lapseProblem}). */
  private lapsed(pending: WaiverRequest): Array<{ keyId: string; approver: string; reason: string }> {
    return this.approvals.flatMap((a) => {
      const reason = lapseProblem(a, this.keyring, pending.riskTier, Date.now());
      return reason ? [{ keyId: a.keyId, approver: a.claim.approver, reason }] : [];
    });
  }

  /**
   * The approvals still counting: one whose key was revoked or whose expiry passed since it was
   * given is withdrawn, so its approver may approve again. Before the patch, a quorum completed
   * with them still counted (a revoked key's, or a waiver granted already expired).
   */
  private withdrawLapsed(pending: WaiverRequest): void {
    const lapsed = this.lapsed(pending);
    if (lapsed.length === 0 || !hasOwnPatch('withdraw-lapsed-approvals')) return;
    for (const { keyId, approver, reason } of lapsed) {
      log.warn('waiver approval withdrawn', { approver, reason });
      this.task.withdrawWaiverApproval(keyId);
    }
    this.approvals = this.approvals.filter((a) => !lapsed.some((l) => l.keyId === a.keyId));
  }

  private approve(signed: SignedDecision): Promise<WaiverDecisionResult> {
    return this.decide(signed, (pending) => {
      const { approver } = signed.claim;
      this.withdrawLapsed(pending);
      if (pending.approvals.some((a) => a.approver === approver || a.keyId === signed.keyId)) return;
      this.approvals.push(signed);
      this.task.addWaiverApproval({
        approver,
        keyId: signed.keyId,
        reasonCode: signed.claim.reasonCode ?? 'other',
        at: new Date().toISOString(),
      });
      if (pending.approvals.length >= pending.approversRequired)
        this.decision = { kind: 'approved', approvals: this.approvals };
    });
  }

  private reject(signed: SignedDecision): Promise<WaiverDecisionResult> {
    return this.decide(signed, () => {
      this.decision = { kind: 'rejected', signed };
    });
  }

  private async readKeyring(): Promise<void> {
    const { tenantId, taskId } = this.task.input;
    this.keyringStale = false;
    this.keyring = await loadApproverKeys({ tenantId, taskId });
  }

  /** Waits for a decision until `deadline`, re-reading the approvers' keys whenever they change. */
  private async awaitDecision(deadline: number): Promise<boolean> {
    for (;;) {
      const remaining = deadline - Date.now();
      if (this.decision || remaining <= 0) return this.decision !== undefined;
      await condition(() => this.decision !== undefined || this.keyringStale, remaining);
      if (this.keyringStale && !this.decision) await this.readKeyring();
    }
  }

  /**
   * Waits for a decision until `deadline`, then closes the desk. A decision accepted before the
   * deadline whose authorisation is still running is waited for (it was made in time, and it may
   * already be recorded); every later one is refused. Closes also when the task is cancelled.
   */
  private async decideOrClose(deadline: number): Promise<boolean> {
    this.deadline = deadline;
    try {
      await this.awaitDecision(deadline);
    } finally {
      this.closing = true;
      if (this.serial) await CancellationScope.nonCancellable(() => condition(() => !this.authorizing));
      this.closed = true;
    }
    return this.decision !== undefined;
  }

  /**
   * Asks for a waiver covering the budget overage and waits. Returns the granted waiver, or the
   * error the task fails with (rejected, or no decision in time).
   */
  async request(spec: SpecEssentials, policy: RepoPolicy): Promise<GrantedDeskWaiver | { error: TaskError }> {
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
    this.serial = hasPatch('waiver-decisions-one-at-a-time');
    await this.readKeyring();
    this.task.openWaiver({
      runId: workflowInfo().runId,
      specId: spec.id,
      treeId: diff.treeId,
      patchDigest: diff.digest,
      gates: ['budget'],
      delta,
      riskTier: spec.riskTier,
      approversRequired: requiredApprovers(spec.riskTier, policy.waivers.minApprovers),
      approvals: [],
      deadline: new Date(Date.now() + hours * 3_600_000).toISOString(),
      maxExpiryHours: policy.waivers.maxExpiryDays * 24,
    });
    const decided = await this.decideOrClose(Date.now() + hours * 3_600_000);
    const pending = this.task.closeWaiver();
    countWaiverDecided(!decided || !this.decision || !pending ? 'expired' : this.decision.kind);
    if (!decided || !this.decision || !pending)
      return { error: { type: 'WaiverExpired', message: `no waiver decision within ${hours} hour(s)` } };
    if (this.decision.kind === 'rejected') {
      const { approver, reason } = this.decision.signed.claim;
      return { error: { type: 'WaiverRejected', message: `waiver rejected by ${approver}: ${reason}` } };
    }
    const { tenantId, taskId } = this.task.input;
    const waiverId = taskWaiverId(taskId);
    const approvals = this.decision.approvals;
    const budgetDetail = waivedBudgetDetail(diff, { ...budget, maxBytes }, { id: waiverId, delta });
    await storeWaiver({
      tenantId,
      taskId,
      waiverId,
      specId: spec.id,
      gates: pending.gates,
      delta,
      ...grantedTerms(approvals),
      approvals,
      approvers: pending.approvals.map(({ approver, keyId, at }) => ({ approver, keyId, at })),
      budgetDetail,
      riskTier: spec.riskTier,
    });
    this.task.waiveGate('budget', budgetDetail);
    return { waiverId };
  }
}
