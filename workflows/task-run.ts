/**
 * The workflow's own record of a task: the snapshot `getState` returns, and `enter`, the one
 * way the state changes — checked against the lifecycle, mirrored into search attributes and
 * the UI's current details, and persisted as a task event.
 */
import { CancellationScope, log, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { assertTransition, isTerminal, type TaskState } from '../domain/lifecycle';
import type { TrustedPolicy } from '../domain/activity-io';
import type { ParsedTaskInput, TaskError, TaskSnapshot } from '../domain/task';
import { AGENT_ID, ARBITER_STATE, RISK_TIER, TENANT_ID, VERDICT } from '../temporal-config';
import { recordTransition } from './activity-proxies';
import { WaiverDesk } from './waiver';

type TaskColumns = { specId?: string; riskTier?: number; agentId?: string; verdict?: string; error?: string; repoPath?: string };

/** Mutable state of one task run, owned by the workflow. */
export class TaskRun {
  readonly snapshot: TaskSnapshot;
  cancelReason: string | undefined;
  /** Model usage reported by the agent run, for the agent's statistics. */
  usage = { tokens: 0, costUsd: 0 };
  /** Kind of the routed agent: `openai` runs as a conversation loop in the workflow. */
  agentKind = '';
  /** Workspaces built so far; names each agent run's conversation. */
  workspaceAttempt = 0;
  /** Takes waiver approvals and rejections for this task. */
  readonly waiverDesk = new WaiverDesk(this);
  /** The repository's policy, read once from its trusted ref before routing; fixed for the run. */
  policy: TrustedPolicy | undefined;
  /** Why a waiver did not come (rejected or timed out), when that is what failed the task. */
  waiverError: TaskError | undefined;

  constructor(readonly input: ParsedTaskInput) {
    this.snapshot = {
      taskId: input.taskId,
      tenantId: input.tenantId,
      workflowId: workflowInfo().workflowId,
      state: 'RECEIVED',
      subState: null,
      history: [],
      spec: null,
      routing: null,
      workspace: null,
      diff: null,
      gates: [],
      violations: [],
      pendingWaiver: null,
      verdict: null,
      delivery: null,
      error: null,
    };
  }

  get state(): TaskState {
    return this.snapshot.state;
  }

  get terminal(): boolean {
    return this.snapshot.history.length > 0 && isTerminal(this.snapshot.state);
  }

  /** Records the first state; separate because it has no predecessor. */
  async receive(): Promise<void> {
    upsertSearchAttributes([{ key: TENANT_ID, value: this.input.tenantId }]);
    await this.persist(null, 'RECEIVED', undefined, { repoPath: this.input.repoPath });
  }

  /** Moves to `to`; the database write is non-cancellable so a cancel never loses a transition. */
  async enter(to: TaskState, note?: string, columns: TaskColumns = {}): Promise<void> {
    const from = this.snapshot.state;
    assertTransition(from, to);
    await this.persist(from, to, note, columns);
  }

  /** Records the verdict in the snapshot and the `Verdict` search attribute as soon as it exists. */
  setVerdict(verdict: { outcome: 'PASS' | 'FAIL' | 'WAIVED'; digest: string }): void {
    this.snapshot.verdict = verdict;
    upsertSearchAttributes([{ key: VERDICT, value: verdict.outcome }]);
    setCurrentDetails(this.details());
  }

  /** Re-renders the UI's current details after a change that is not a transition. */
  refreshDetails(): void {
    setCurrentDetails(this.details());
  }

  /** The policy read before routing; every step after routing may rely on it. */
  trustedPolicy(): TrustedPolicy {
    if (!this.policy) throw new Error('the repository policy is read before routing; nothing may use it earlier');
    return this.policy;
  }

  /** The error of a FAIL verdict, naming the gates that failed. */
  gatesFailedError(): TaskError {
    const failed = this.snapshot.gates.filter((g) => g.status === 'fail').map((g) => g.name);
    return { type: 'GatesFailed', message: `gate(s) failed: ${failed.join(', ')}` };
  }

  /** Ends the task with `to` (REJECTED / FAILED) and the reason. */
  async fail(to: 'REJECTED' | 'FAILED', error: TaskError, columns: TaskColumns = {}): Promise<void> {
    this.snapshot.error = error;
    await this.enter(to, error.message, { ...columns, error: `${error.type}: ${error.message}` });
  }

  private async persist(from: TaskState | null, to: TaskState, note: string | undefined, columns: TaskColumns): Promise<void> {
    const at = new Date().toISOString();
    const seq = this.snapshot.history.length;
    const { taskId, tenantId, workflowId } = this.snapshot;
    // Persisted first, shown second: whoever sees a state can find it in PostgreSQL too.
    await CancellationScope.nonCancellable(() =>
      recordTransition({ tenantId, taskId, workflowId, seq, from, to, at, note, task: columns }),
    );
    if (this.snapshot.history.length !== seq) throw new Error(`concurrent transitions at seq ${seq}`);
    this.snapshot.state = to;
    this.snapshot.subState = null;
    this.snapshot.history.push(note ? { state: to, at, note } : { state: to, at });
    this.updateSearchAttributes(columns);
    setCurrentDetails(this.details());
    log.info('task state changed', { from, to, seq, ...(note ? { note } : {}) });
  }

  private updateSearchAttributes(columns: TaskColumns): void {
    upsertSearchAttributes([
      { key: ARBITER_STATE, value: this.snapshot.state },
      ...(columns.riskTier !== undefined ? [{ key: RISK_TIER, value: columns.riskTier }] : []),
      ...(columns.agentId ? [{ key: AGENT_ID, value: columns.agentId }] : []),
      ...(columns.verdict ? [{ key: VERDICT, value: columns.verdict }] : []),
    ]);
  }

  /** Markdown shown as the run's current details in the Web UI. */
  private details(): string {
    const s = this.snapshot;
    const lines = [`**${s.state}**${s.subState ? ` (${s.subState})` : ''} — task \`${s.tenantId}/${s.taskId}\``];
    if (s.spec) lines.push(`Spec: ${s.spec.id} "${s.spec.title}" (tier ${s.spec.riskTier}, ${s.spec.mode})`);
    if (s.routing) lines.push(`Agent: ${s.routing.agentId} — ${s.routing.reason}`);
    if (s.diff) lines.push(`Diff: ${s.diff.filesChanged} file(s), +${s.diff.linesAdded}/-${s.diff.linesDeleted}`);
    for (const g of s.gates) lines.push(`Gate ${g.name} (${g.source}): ${g.status} — ${g.detail}`);
    if (s.verdict) lines.push(`Verdict: ${s.verdict.outcome} ${s.verdict.digest}`);
    if (s.delivery) lines.push(`Delivered: branch ${s.delivery.branch} @ ${s.delivery.commit.slice(0, 12)}`);
    if (s.pendingWaiver) {
      const w = s.pendingWaiver;
      lines.push(`Awaiting waiver for ${w.gates.join(', ')}: +${w.delta.maxFiles} files, +${w.delta.maxLoc} lines; ${w.approvals.length}/${w.approversRequired} approval(s), until ${w.deadline}`);
    }
    for (const v of s.violations) lines.push(`Policy violation: ${v.op} ${v.path} — ${v.reason}`);
    if (s.error) lines.push(`Error: ${s.error.type}: ${s.error.message}`);
    return lines.join('\n\n');
  }
}
