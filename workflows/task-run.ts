/**
 * The workflow's own record of a task, as `orderImpl` is the orders reference app's: the snapshot
 * `getState` returns changes only through the named methods here. `enter` is the one way the
 * lifecycle state changes — checked against the lifecycle, mirrored into search attributes and
 * the UI's current details, and persisted as a task event.
 */
import { CancellationScope, log, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import { showSearchAttributes } from './visibility';
import { keepViolation } from '../domain/bounds';
import { keepsChange } from '../domain/retry-feedback';
import type { CandidateEvidence, CandidateView } from '../domain/candidates';
import { assertTransition, isTerminal, type TaskState } from '../domain/lifecycle';
import type {
  AdoptedCandidate,
  AgentRunResult,
  Delivery,
  ResolvedRepo,
  RoutingDecision,
  TrustedPolicy,
} from '../domain/activity-io';
import type { DiffSummary } from '../domain/diff';
import type { PolicyViolation } from '../domain/sandbox';
import {
  receivedSnapshot,
  type GateResult,
  type ParsedTaskInput,
  type TaskError,
  type TaskSnapshot,
  type VerdictOutcome,
} from '../domain/task';
import { summarizeTask } from '../domain/task-summary';
import type { WaiverRequest } from '../domain/waiver';
import { AGENT_ID, ARBITER_STATE, RISK_TIER, TENANT_ID, VERDICT } from '../temporal-config';
import { localSteps, recordTransition, recordTransitionLocally } from './activity-proxies';
import { WaiverDesk, type WaiverTask } from './waiver';
import {
  countGates,
  countRouting,
  countTransition,
  countVerdict,
  countWaiverRequested,
  type TaskRole,
} from './task-metrics';

type Usage = { tokens: number; costUsd: number };

/** A retry as the workflow tracks it: the feedback, and where the failed change is. */
export interface RetryContext {
  attempt: number;
  feedback: string;
  /** The failed change's tree, in the workspace built `workspace`-th; absent when the next attempt starts from the base. */
  fromTree?: string;
  workspace: number;
  /** Turns the agent's conversation had taken when the attempt ended. */
  turnsBefore: number;
  /** The closed attempt's change and gates, whole: judged again if the retry's agent fails. */
  judged: { diff: DiffSummary; gates: GateResult[] };
}
type TaskColumns = {
  specId?: string;
  riskTier?: number;
  agentId?: string;
  verdict?: VerdictOutcome;
  error?: string;
  repoPath?: string;
};

/** Mutable state of one task run, owned by the workflow: every change goes through a method here. */
export class TaskRun implements WaiverTask {
  private readonly current: TaskSnapshot;
  private cancelledFor: string | undefined;
  private modelUsage: Usage = { tokens: 0, costUsd: 0 };
  private routedKind = '';
  private routedRunSeconds: number | undefined;
  private workspacesBuilt = 0;
  private lostHosts: string[] = [];
  private policy: TrustedPolicy | undefined;
  private lastRun: AgentRunResult | undefined;
  private conversationRuns = new Map<number, string>();
  private retrying: RetryContext | undefined;
  private agentMillis = 0;
  private agentRunFailed = false;
  private adopted: AdoptedCandidate | undefined;
  /**
   * Shields every transition's write from cancellation. One scope for the run: a scope made per
   * write cost each transition three promises more, and the SDK captures a stack trace for every
   * promise a workflow makes (bench/PERFORMANCE.md, fifteenth round).
   */
  private readonly transitionShield = new CancellationScope({ cancellable: false });
  private adoptedRun: { index: number; runId: string } | undefined;
  private judgedCandidates: { assessed: CandidateEvidence[]; reason: string } | undefined;
  private resolvedRepo: ResolvedRepo | undefined;
  /** Takes waiver approvals and rejections for this task. */
  readonly waiverDesk = new WaiverDesk(this);

  constructor(readonly input: ParsedTaskInput) {
    this.current = receivedSnapshot(input, workflowInfo().workflowId);
  }

  /** What `getState` returns; read-only here so that only this class's methods change it. */
  get snapshot(): Readonly<TaskSnapshot> {
    return this.current;
  }

  /** Model usage reported by the agent run, for the agent's statistics. */
  get usage(): Usage {
    return this.modelUsage;
  }

  /** Why the task is being cancelled, once a cancel has been asked for. */
  get cancelReason(): string | undefined {
    return this.cancelledFor;
  }

  /** Records a cancel request; false (and nothing changes) when the task has ended or is already being cancelled. */
  requestCancel(reason: string): boolean {
    if (this.terminal || this.cancelledFor) return false;
    this.cancelledFor = reason;
    return true;
  }

  /** Workspaces built so far; names each agent run's conversation. */
  get workspaceAttempt(): number {
    return this.workspacesBuilt;
  }

  /** Kind of the routed agent: `openai` runs as a conversation loop in the workflow. */
  get agentKind(): string {
    return this.routedKind;
  }

  /** The routed agent's own limit on one run, when its config sets one. */
  get agentRunSeconds(): number | undefined {
    return this.routedRunSeconds;
  }

  /** How the metrics count this task: a candidate of a best-of-N task apart from submitted tasks. */
  private get metricRole(): TaskRole {
    return this.input.candidateOf ? 'candidate' : 'task';
  }

  /** The lifecycle state the task is in. */
  get state(): TaskState {
    return this.snapshot.state;
  }

  /** True once the task has reached an end state. */
  get terminal(): boolean {
    return this.snapshot.history.length > 0 && isTerminal(this.snapshot.state);
  }

  /** Records the first state; separate because it has no predecessor. */
  async receive(): Promise<void> {
    showSearchAttributes([{ key: TENANT_ID, value: this.input.tenantId }]);
    await this.persist(null, 'RECEIVED');
  }

  /** Moves to `to`; the database write is non-cancellable so a cancel never loses a transition. */
  async enter(to: TaskState, note?: string, columns: TaskColumns = {}): Promise<void> {
    const from = this.snapshot.state;
    assertTransition(from, to);
    await this.persist(from, to, note, columns);
  }

  /** Records the validated spec's summary; shown from SPEC_APPROVED on. */
  recordSpec(spec: NonNullable<TaskSnapshot['spec']>): void {
    this.current.spec = spec;
  }

  /** Fixes the repository the task's name resolved to, under its tenant, for the rest of the run. */
  setRepo(repo: ResolvedRepo): void {
    this.resolvedRepo = repo;
  }

  /** Path of the task's registered repository; resolved first, while validating, so every later step has it. */
  get repoPath(): string {
    if (!this.resolvedRepo) throw new Error('the repository is resolved while validating; nothing may use it earlier');
    return this.resolvedRepo.path;
  }

  /** Fixes the repository's policy for the rest of the run (read once, before routing). */
  setPolicy(policy: TrustedPolicy): void {
    this.policy = policy;
  }

  /** Records the routing decision and the routed agent's kind. */
  recordRouting(decision: RoutingDecision): void {
    this.current.routing = {
      agentId: decision.agentId,
      reason: decision.reason,
      candidates: decision.candidates.length,
    };
    this.routedKind = decision.agentKind;
    this.routedRunSeconds = decision.maxRunSeconds;
    countRouting(decision.agentId);
  }

  /** Host queues that held an earlier workspace of this task, given up when the task moved on. */
  get abandonedHosts(): readonly string[] {
    return this.lostHosts;
  }

  /** Records a freshly prepared workspace; each one counts as a new attempt. */
  recordWorkspace(ws: { baseCommit: string; hostQueue: string }): void {
    const before = this.current.workspace?.hostQueue;
    if (before && before !== ws.hostQueue && !this.lostHosts.includes(before)) this.lostHosts.push(before);
    this.current.workspace = { baseCommit: ws.baseCommit, hostQueue: ws.hostQueue };
    this.workspacesBuilt += 1;
  }

  /** Records the agent's finished run: its account of itself and its usage (all attempts'). */
  recordAgentRun(run: AgentRunResult): void {
    this.lastRun = run;
    this.recordUsage({ tokens: run.tokens ?? 0, costUsd: run.costUsd ?? 0 });
  }

  /**
   * Records that the conversation in the `workspace`-th workspace is named after `runId`, and
   * returns the run it was named after until now: a retry continues a conversation only under
   * the same name (after a reset, the new run's retry converses anew).
   */
  nameConversation(workspace: number, runId: string): string | undefined {
    const before = this.conversationRuns.get(workspace);
    this.conversationRuns.set(workspace, runId);
    return before;
  }

  /** Adds the time one agent run took: wall-clock budgets count the agent's own time, over every attempt. */
  addAgentTime(ms: number): void {
    this.agentMillis += ms;
  }

  /**
   * Records that the agent's own run failed (not its workspace's preparation or setup, which the
   * submitter's input or the host can fail): only such a failure may count against the agent's health.
   */
  noteAgentRunFailed(): void {
    this.agentRunFailed = true;
  }

  /** True once an agent run of this task has failed ({@link noteAgentRunFailed}). */
  get failedInAgentRun(): boolean {
    return this.agentRunFailed;
  }

  /** The agent's own running time over its attempts so far, in milliseconds. */
  get agentTime(): number {
    return this.agentMillis;
  }

  /** Where the agent's wall clock stands: as if its attempts so far had run back to back until now. */
  get agentClockStart(): number {
    return Date.now() - this.agentMillis;
  }

  /** The attempt in progress: 1, then one more for each retry. */
  get attempt(): number {
    return this.current.attempts.length + 1;
  }

  /** The retry in progress, once an attempt's gates failed and the agent was asked again. */
  get retry(): Readonly<RetryContext> | undefined {
    return this.retrying;
  }

  /**
   * Closes the attempt whose gates failed, keeping its change and gates (their output stays in
   * PostgreSQL, out of the run's state), and opens the next with `feedback` for the agent. The
   * snapshot's diff and gates are the new attempt's from here on.
   */
  retryWith(feedback: string): void {
    const { diff, gates } = this.current;
    if (!diff) throw new Error('an attempt is closed only after its change was measured');
    const { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted } = diff;
    this.current.attempts.push({
      attempt: this.attempt,
      summary: this.lastRun?.summary ?? '',
      diff: { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted },
      gates: gates.map(({ outputTail: _tail, ...evidence }) => evidence),
      endedAt: new Date().toISOString(),
    });
    this.retrying = {
      attempt: this.attempt,
      feedback,
      ...(keepsChange(gates) ? { fromTree: treeId } : {}),
      workspace: this.workspacesBuilt,
      turnsBefore: this.lastRun?.stepsApplied ?? 0,
      judged: { diff, gates },
    };
    this.current.diff = null;
    this.current.gates = [];
  }

  /** Gives up the retry whose agent failed: the attempt before it is the one judged again. */
  abandonRetry(): void {
    const judged = this.retrying?.judged;
    if (!judged) throw new Error('no retry to give up');
    this.current.attempts.pop();
    this.current.diff = judged.diff;
    this.current.gates = judged.gates;
    this.retrying = undefined;
  }

  /** Shows the candidates the task runs (best of N), and each as it starts and ends. */
  showCandidates(views: CandidateView[]): void {
    this.current.candidates = views;
    this.refreshDetails();
  }

  /** Updates candidate `index` as it starts or ends. */
  updateCandidate(index: number, change: Partial<CandidateView>): void {
    const view = this.current.candidates.find((c) => c.index === index);
    if (view) Object.assign(view, change);
    this.refreshDetails();
  }

  /**
   * Takes the judged candidate's change over: its diff (the patch now the task's own), its gates
   * and its base are the task's; the verdict names every candidate and why this one.
   */
  adoptCandidate(
    adopted: AdoptedCandidate,
    judged: { assessed: CandidateEvidence[]; reason: string },
    from: { index: number; runId: string },
  ): void {
    this.current.diff = adopted.diff;
    this.current.gates = adopted.gates;
    this.current.candidateChoice = judged.reason;
    this.adopted = adopted;
    this.adoptedRun = from;
    this.judgedCandidates = judged;
  }

  /** The candidate run whose change the task took over: the verdict carries the waivers it used. */
  get adoptedFrom(): { index: number; runId: string } | undefined {
    return this.adoptedRun;
  }

  /** The candidates the verdict names, for a best-of-N task. */
  get candidatesForVerdict(): { assessed: CandidateEvidence[]; reason: string } | undefined {
    return this.judgedCandidates;
  }

  /** The commit the change is delivered onto: the workspace's base, or the adopted candidate's. */
  get deliveryBase(): string | undefined {
    return this.current.workspace?.baseCommit ?? this.adopted?.baseCommit;
  }

  /** Forgets the workspace it has released, so a new one elsewhere does not count its host as lost. */
  discardWorkspace(): void {
    this.current.workspace = null;
  }

  /** Records the model usage so far (the whole run's once the agent has finished). */
  recordUsage(usage: Usage): void {
    this.modelUsage = usage;
  }

  /** Records the measured change that the gates judge. */
  recordDiff(diff: DiffSummary): void {
    this.current.diff = diff;
  }

  /** Replaces the gate results (the arbiter's own checks, before any command gate runs). */
  setGates(gates: GateResult[]): void {
    this.current.gates = gates;
    countGates(gates, this.metricRole);
  }

  /** Appends one gate's result. */
  addGate(gate: GateResult): void {
    this.current.gates.push(gate);
    countGates([gate], this.metricRole);
  }

  /** Marks gate `name` passed with `detail`, as an applied waiver does. */
  waiveGate(name: string, detail: string): void {
    const gate = this.current.gates.find((g) => g.name === name);
    if (!gate) return;
    Object.assign(gate, { status: 'pass', detail });
    countGates([gate], this.metricRole, true);
  }

  /** Records an operation the sandbox refused, clipped; the snapshot keeps the most recent. */
  addViolation(violation: PolicyViolation): void {
    keepViolation(this.current.violations, violation);
  }

  /** Says what the task is doing within its state (`null` when nothing in particular); cleared by every transition. */
  setSubState(subState: string | null): void {
    this.current.subState = subState;
  }

  /** Shows the waiver the task now waits for (`awaiting_waiver`). */
  openWaiver(request: WaiverRequest): void {
    this.current.pendingWaiver = request;
    this.current.subState = 'awaiting_waiver';
    this.refreshDetails();
    countWaiverRequested();
  }

  /** Records one approval of the pending waiver. */
  addWaiverApproval(approval: WaiverRequest['approvals'][number]): void {
    this.current.pendingWaiver?.approvals.push(approval);
  }

  /** Takes back an approval of the pending waiver that no longer counts (its key revoked, or expired). */
  withdrawWaiverApproval(keyId: string): void {
    const pending = this.current.pendingWaiver;
    if (pending) pending.approvals = pending.approvals.filter((a) => a.keyId !== keyId);
  }

  /** Ends the wait for a waiver; returns the request as it stood. */
  closeWaiver(): WaiverRequest | null {
    const pending = this.current.pendingWaiver;
    this.current.pendingWaiver = null;
    this.current.subState = null;
    return pending;
  }

  /** Records where the change was delivered. */
  recordDelivery(delivery: Delivery): void {
    this.current.delivery = delivery;
  }

  /** Records the verdict in the snapshot and the `Verdict` search attribute as soon as it exists. */
  setVerdict(verdict: NonNullable<TaskSnapshot['verdict']>): void {
    this.current.verdict = verdict;
    countVerdict(verdict.outcome, this.metricRole);
    showSearchAttributes([{ key: VERDICT, value: verdict.outcome }]);
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
  async fail(
    to: Extract<TaskState, 'REJECTED' | 'FAILED'>,
    error: TaskError,
    columns: TaskColumns = {},
  ): Promise<void> {
    this.current.error = error;
    await this.enter(to, error.message, { ...columns, error: `${error.type}: ${error.message}` });
  }

  private async persist(
    from: TaskState | null,
    to: TaskState,
    note?: string,
    columns: TaskColumns = {},
  ): Promise<void> {
    const at = new Date().toISOString();
    const seq = this.snapshot.history.length;
    const { taskId, tenantId, workflowId } = this.snapshot;
    // Persisted first, shown second: whoever sees a state can find it in PostgreSQL too.
    const record = localSteps() ? recordTransitionLocally : recordTransition;
    await this.transitionShield.run(() =>
      record({ tenantId, taskId, workflowId, seq, from, to, at, note, task: columns }),
    );
    if (this.snapshot.history.length !== seq) throw new Error(`concurrent transitions at seq ${seq}`);
    this.current.state = to;
    this.current.subState = null;
    this.current.history.push(note ? { state: to, at, note } : { state: to, at });
    this.updateSearchAttributes(columns);
    setCurrentDetails(this.details());
    countTransition(to, { role: this.metricRole, agentId: this.current.routing?.agentId, usage: this.modelUsage });
    log.info('task state changed', { from, to, seq, ...(note ? { note } : {}) });
  }

  private updateSearchAttributes(columns: TaskColumns): void {
    showSearchAttributes([
      { key: ARBITER_STATE, value: this.snapshot.state },
      ...(columns.riskTier !== undefined ? [{ key: RISK_TIER, value: columns.riskTier }] : []),
      ...(columns.agentId ? [{ key: AGENT_ID, value: columns.agentId }] : []),
      ...(columns.verdict ? [{ key: VERDICT, value: columns.verdict }] : []),
    ]);
  }

  /** Markdown shown as the run's current details in the Web UI: the task summary, one paragraph a line. */
  private details(): string {
    const { ref, state, lines } = summarizeTask(this.current);
    return [
      `**${state}** — task \`${ref}\``,
      ...lines.map((l) => (l.label ? `**${l.label}** ${l.text}` : l.text)),
    ].join('\n\n');
  }
}
