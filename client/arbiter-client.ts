/**
 * The TypeScript client: submit a task, read its state, follow it, cancel it. The CLI is a
 * thin layer over this, so applications and people use one surface.
 */
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import { clientTracer, inSpan } from '../host/tracing';
import {
  ApplicationFailure,
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import { TaskAlreadyEndedError, TooManyWatchersError, WatchBehindError, WatchEndedError } from '../domain/errors';
import { parse as parseYaml } from 'yaml';
import { isTerminal } from '../domain/lifecycle';
import { existsSync } from 'node:fs';
import { loadTrustedPolicy } from '../host/trusted-policy';
import { gateNameClashes } from '../domain/repo-policy';
import { TaskInputSchema, type ParsedTaskInput, type TaskInput, type TaskSnapshot } from '../domain/task';
import {
  ARBITER_STATE,
  DEFAULT_TASK_QUEUE,
  initialSearchAttributes,
  TASK_WORKFLOW_TYPE,
  TENANT_ID,
  taskWorkflowId,
  type TaskRef,
} from '../temporal-config';
import { connectionOptions, namespaceForTenant, type TemporalProfile } from '../temporal-config/connection';
import { zodProblems } from '../domain/zod-issues';
import type { SignedDecision } from '../domain/approval';
import type { WaiverDecisionResult } from '../domain/waiver';
import {
  approversChangedSignal,
  approveWaiverUpdate,
  awaitTransitionUpdate,
  cancelSignal,
  getStateQuery,
  rejectWaiverUpdate,
} from '../workflows/definitions';
import type { taskLifecycle } from '../workflows';
import { isUpdateDroppedByTaskFailure, onceWorkerPolls } from './worker-wait';
import { TEMPORAL_RUN_ID } from '../domain/ids';
import { printable } from '../domain/printable';

/** The server's refusal of a signal to a run past its limit (`history.maximumSignalsPerExecution`). */
const SIGNALS_EXHAUSTED = /exceeded workflow execution limit for signal events/;

/** Input that failed validation before reaching Temporal; lists every problem. */
export class InvalidTaskInputError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid task: ${problems.join('; ')}`);
    this.name = 'InvalidTaskInputError';
  }
}

/** The task named does not exist in Temporal. */
export class TaskNotFoundError extends Error {
  constructor(public readonly workflowId: string) {
    super(`no task with workflow id '${workflowId}'`);
    this.name = 'TaskNotFoundError';
  }
}

/**
 * What answered under a task's workflow id described another task: anyone who may write to the
 * namespace can answer there with workflow code of their own, and a copy of another task's
 * completed snapshot was shown as this task's COMPLETED (found in review).
 */
export class ForeignSnapshotError extends Error {
  constructor(
    public readonly workflowId: string,
    public readonly answeredFor: string,
  ) {
    super(`the run under '${workflowId}' answered for '${answeredFor}': it is not Arbiter's run of this task`);
    this.name = 'ForeignSnapshotError';
  }
}

/** Whether `s` describes the task `ref` names: its tenant, its id, its workflow id. */
export function describesTask(ref: TaskRef, s: TaskSnapshot): boolean {
  return s.tenantId === ref.tenantId && s.taskId === ref.taskId && s.workflowId === taskWorkflowId(ref);
}

/** `s`, when it describes the task `ref` names; ForeignSnapshotError otherwise. */
function ofTask(ref: TaskRef, s: TaskSnapshot): TaskSnapshot {
  if (!describesTask(ref, s))
    throw new ForeignSnapshotError(
      taskWorkflowId(ref),
      printable(`${clip(s.tenantId)}/${clip(s.taskId)} (${clip(s.workflowId)})`),
    );
  return s;
}

/** ARBITER_TENANT_NAMESPACES names other tenants only: this one has no namespace to run in. */
export class TenantNamespaceUnknownError extends Error {
  constructor(public readonly tenantId: string) {
    super(`tenant '${tenantId}' has no Temporal namespace in ARBITER_TENANT_NAMESPACES`);
    this.name = 'TenantNamespaceUnknownError';
  }
}

/** Result of a submission: the run it started, or the existing one it attached to. */
export interface Submission {
  workflowId: string;
  runId: string;
  attached: boolean;
  /**
   * Set when the existing run has already ended: the task's final lifecycle state (COMPLETED,
   * FAILED, REJECTED, CANCELLED) — also when the latest run is a later one that was refused
   * because the task had ended — or the execution's status when it ended without one
   * (TERMINATED, TIMED_OUT, FAILED). A task id runs once, so an ended task will not run again;
   * resubmitting it only reports how it ended.
   */
  ended?: string;
}

/** The run that holds a workflow id, and how it ended if it has. */
interface ExistingRun {
  runId: string;
  ended?: string;
}

function summaryOf(input: { tenantId: string; taskId: string; specYaml: string }): string {
  let title = '';
  try {
    const spec = parseYaml(input.specYaml) as { id?: unknown; title?: unknown } | null;
    title = [spec?.id, spec?.title].filter((v) => typeof v === 'string').join(': ');
  } catch {
    // an unparseable spec is reported by validateSpec; the summary just goes without a title
  }
  return `${input.tenantId}/${input.taskId}${title ? ` — ${title}` : ''}`.slice(0, 200);
}

/** The state and run a refused later run names (TaskAlreadyEndedError carries them), if that is why it failed. */
function endedEarlier(err: unknown): { state?: string; runId?: string } | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && e.type === TaskAlreadyEndedError.type)
      return e.details?.[0] as { state?: string; runId?: string } | undefined;
  }
  return undefined;
}

/**
 * Refuses, before anything reaches Temporal, submitter gates named like the repository policy's
 * gates — when the caller knows where the registered repository is on this machine. A policy
 * that cannot be read here is left to the workflow, which checks again and fails the task naming the clash.
 */
async function refuseClashingGates(input: ParsedTaskInput, localRepoPath: string | undefined): Promise<void> {
  if (input.gates.length === 0 || !localRepoPath || !existsSync(localRepoPath)) return;
  const trusted = await loadTrustedPolicy(localRepoPath).catch(() => undefined);
  const clashes = trusted ? gateNameClashes(input.gates, trusted.policy) : [];
  if (clashes.length) throw new InvalidTaskInputError(clashes.map((c) => `gates: ${c}`));
}

/** True once the snapshot is in an end state. */
function hasEnded(snapshot: TaskSnapshot): boolean {
  return snapshot.history.length > 0 && isTerminal(snapshot.state);
}

/** Why the workflow refused an update, when it did. */
function refusalType(err: unknown): string | undefined {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure
    ? (err.cause.type ?? undefined)
    : undefined;
}

/**
 * The snapshot after the task's next transition past `afterSeq`. Refused because the watcher is
 * behind or the task ended, it reads `getState`; refused for want of a watcher slot, or dropped
 * with a workflow task that failed (the task goes on), it waits `busyPollMs` first; once the run
 * has closed, its result is the final snapshot.
 */
async function nextSnapshot(
  handle: WorkflowHandle<typeof taskLifecycle>,
  afterSeq: number,
  busyPollMs: number,
  onNoWorker: () => void,
): Promise<TaskSnapshot> {
  try {
    return await handle.executeUpdate(awaitTransitionUpdate, { args: [{ afterSeq }] });
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return handle.result();
    const refused = refusalType(err);
    if (refused === TooManyWatchersError.type || isUpdateDroppedByTaskFailure(err))
      await new Promise((r) => setTimeout(r, busyPollMs));
    else if (refused !== WatchBehindError.type && refused !== WatchEndedError.type) throw err;
    return onceWorkerPolls(handle, () => handle.query(getStateQuery), busyPollMs, onNoWorker);
  }
}

/** A submitter's own string, bounded: the span is made before the input is checked. */
const clip = (v: unknown) => String(v).slice(0, 200);

/**
 * Every call carries the caller's trace context to the workflow, so a task's trace starts at
 * its submitter (a no-op while the process traces nothing).
 */
function traced() {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: clientTracer() })] };
}

/**
 * A connected Arbiter client. Each tenant's tasks live in the namespace the profile maps it to
 * (`tenantNamespaces`), so every call picks its namespace from the task's tenant.
 */
export class ArbiterClient {
  private readonly byNamespace = new Map<string, Client>();

  private constructor(
    readonly temporal: Client,
    private readonly connection: Connection,
    readonly taskQueue: string,
    private readonly profile: TemporalProfile,
  ) {
    this.byNamespace.set(profile.namespace, temporal);
  }

  /** Connects to Temporal with the given profile. */
  static async connect(profile: TemporalProfile, options: { taskQueue?: string } = {}): Promise<ArbiterClient> {
    const connection = await Connection.connect(connectionOptions(profile));
    const client = new Client({ connection, namespace: profile.namespace, interceptors: traced() });
    return new ArbiterClient(client, connection, options.taskQueue ?? DEFAULT_TASK_QUEUE, profile);
  }

  /** The Temporal client of the namespace that serves `tenantId`. */
  forTenant(tenantId: string): Client {
    const namespace = namespaceForTenant(this.profile, tenantId);
    if (!namespace) throw new TenantNamespaceUnknownError(tenantId);
    let client = this.byNamespace.get(namespace);
    if (!client) {
      client = new Client({ connection: this.connection, namespace, interceptors: traced() });
      this.byNamespace.set(namespace, client);
    }
    return client;
  }

  /**
   * Starts the task, or attaches to the run that already has its workflow id. `localRepoPath`,
   * when the caller knows where the registered repository is on this machine, lets gate-name
   * clashes be refused before anything starts; the workflow resolves the name itself regardless.
   */
  submit(raw: TaskInput, options: { localRepoPath?: string } = {}): Promise<Submission> {
    const attributes = { 'arbiter.task_id': clip(raw.taskId), 'arbiter.tenant_id': clip(raw.tenantId) };
    return inSpan('arbiter submit', attributes, () => this.submitTask(raw, options));
  }

  private async submitTask(raw: TaskInput, options: { localRepoPath?: string }): Promise<Submission> {
    const parsed = TaskInputSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidTaskInputError(zodProblems(parsed.error));
    const input = parsed.data;
    const workflowId = taskWorkflowId(input);
    const temporal = this.forTenant(input.tenantId);
    const existing = await this.existingRun(temporal, workflowId);
    if (existing) return { workflowId, ...existing, attached: true };
    await refuseClashingGates(input, options.localRepoPath);
    try {
      const handle = await temporal.workflow.start<typeof taskLifecycle>(TASK_WORKFLOW_TYPE, {
        workflowId,
        taskQueue: this.taskQueue,
        args: [input],
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        typedSearchAttributes: initialSearchAttributes(input.tenantId),
        staticSummary: summaryOf(input),
      });
      return { workflowId, runId: handle.firstExecutionRunId, attached: false };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      const raced = await this.existingRun(temporal, workflowId);
      return { workflowId, runId: '', ...raced, attached: true };
    }
  }

  /** The latest run under `workflowId`; a closed one says how the task ended (its result's state when it returned one). */
  private async existingRun(temporal: Client, workflowId: string): Promise<ExistingRun | undefined> {
    const handle = temporal.workflow.getHandle<typeof taskLifecycle>(workflowId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
    const status = description.status.name;
    // A task that reached its end state may still be tidying up (releasing its workspace,
    // recording feedback); to its submitter it has ended all the same.
    if (status === 'RUNNING') return { runId: description.runId, ended: await this.endStateOf(handle) };
    try {
      return {
        runId: description.runId,
        ended: (await temporal.workflow.getHandle<typeof taskLifecycle>(workflowId, description.runId).result()).state,
      };
    } catch (err) {
      return { runId: description.runId, ended: endedEarlier(err)?.state ?? status };
    }
  }

  /** The task's end state when its running workflow has already reached one; undefined otherwise. */
  private async endStateOf(handle: WorkflowHandle<typeof taskLifecycle>): Promise<string | undefined> {
    const snapshot = await handle.query(getStateQuery).catch(() => undefined);
    return snapshot && snapshot.history.length > 0 && isTerminal(snapshot.state) ? snapshot.state : undefined;
  }

  /**
   * The `getState` snapshot. A run started again under an ended task's id (by hand, with another
   * id reuse policy) is refused at its first step and holds no state of its own: the snapshot is
   * then the run that ended the task, which it names, not the refused run's empty RECEIVED. A
   * snapshot of another task is refused ({@link ForeignSnapshotError}), here and in `watch`.
   */
  async status(ref: TaskRef): Promise<TaskSnapshot> {
    return ofTask(ref, await this.latestSnapshot(ref));
  }

  private async latestSnapshot(ref: TaskRef): Promise<TaskSnapshot> {
    const workflowId = taskWorkflowId(ref);
    const workflow = this.forTenant(ref.tenantId).workflow;
    try {
      const latest = workflow.getHandle(workflowId);
      const snapshot = await latest.query(getStateQuery);
      if (snapshot.history.length > 0 || (await latest.describe()).status.name !== 'FAILED') return snapshot;
      const ended = await latest.result().then(() => undefined, endedEarlier);
      // A task recorded before runs were tracked names no run: its refused run's snapshot is all there is.
      if (!ended?.runId || !TEMPORAL_RUN_ID.test(ended.runId)) return snapshot;
      return await workflow
        .getHandle(workflowId, ended.runId)
        .query(getStateQuery)
        .catch(() => snapshot);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new TaskNotFoundError(workflowId);
      throw err;
    }
  }

  /**
   * Follows the task to a terminal state, calling `onChange` with each snapshot whose history
   * grew: one `getState` to start, then the `awaitTransition` update, which waits in the workflow
   * for the next transition (no polling). When the run has ended its result is the last snapshot;
   * when every watcher slot of the task is taken, it reads `getState` every `busyPollMs` instead.
   * While no worker polls the task's queue (all down, or restarting) it waits for one, unless the
   * run has closed: then its result is the last snapshot. `onNoWorker` is told each time such a
   * wait begins.
   */
  async watch(
    ref: TaskRef,
    onChange: (s: TaskSnapshot) => void = () => undefined,
    busyPollMs = 1000,
    onNoWorker: () => void = () => undefined,
  ): Promise<TaskSnapshot> {
    const handle = this.forTenant(ref.tenantId).workflow.getHandle<typeof taskLifecycle>(taskWorkflowId(ref));
    let snapshot = await onceWorkerPolls(handle, () => this.status(ref), busyPollMs, onNoWorker);
    onChange(snapshot);
    while (!hasEnded(snapshot)) {
      const next = ofTask(ref, await nextSnapshot(handle, snapshot.history.length, busyPollMs, onNoWorker));
      if (next.history.length !== snapshot.history.length) onChange(next);
      snapshot = next;
    }
    return snapshot;
  }

  /** Sends the cancel signal; the task records CANCELLED unless it already ended. */
  async cancel(ref: TaskRef, reason = 'cancelled by operator'): Promise<void> {
    const workflowId = taskWorkflowId(ref);
    const handle = this.forTenant(ref.tenantId).workflow.getHandle(workflowId);
    try {
      await handle.signal(cancelSignal, { reason });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new TaskNotFoundError(workflowId);
      // A run that took its last signal (SERVER_RUN_LIMITS) is cancelled by Temporal instead, without the reason.
      if (!SIGNALS_EXHAUSTED.test(String((err as Error).cause ?? err))) throw err;
      await handle.cancel();
    }
  }

  /** Sends a signed decision (`approveWaiver` or `rejectWaiver`, as it says); returns where the decision stands. */
  async decideWaiver(ref: TaskRef, signed: SignedDecision): Promise<WaiverDecisionResult> {
    const update = signed.claim.decision === 'approve' ? approveWaiverUpdate : rejectWaiverUpdate;
    // To the run the decision names alone: another run under the task's id is not the one it was signed for.
    return this.forTenant(ref.tenantId)
      .workflow.getHandle(taskWorkflowId(ref), signed.claim.runId)
      .executeUpdate(update, { args: [signed] });
  }

  /**
   * Tells the tenant's tasks in VERIFYING that its approvers changed, so a waiting waiver judges
   * by the keys registered now. Returns the workflow ids told and those the signal did not reach
   * (refused by a run past its signal limit or closed meanwhile, or failed), so the caller can name them.
   */
  async announceApproversChanged(tenantId: string): Promise<{ told: string[]; missed: string[] }> {
    const told: string[] = [];
    const missed: string[] = [];
    const query = `${ARBITER_STATE.name}="VERIFYING" AND ${TENANT_ID.name}=${JSON.stringify(tenantId)} AND ExecutionStatus="Running"`;
    for await (const wf of this.forTenant(tenantId).workflow.list({ query })) {
      await this.forTenant(tenantId)
        .workflow.getHandle(wf.workflowId, wf.runId)
        .signal(approversChangedSignal)
        .then(
          () => told.push(wf.workflowId),
          () => missed.push(wf.workflowId),
        );
    }
    return { told, missed };
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.connection.close();
  }
}
