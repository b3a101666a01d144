/**
 * Conditions that retrying cannot fix. Each is an ApplicationFailure with its own `type`, so
 * it crosses the activity/workflow boundary intact, is never retried, and the workflow can
 * branch on `type` without string-matching messages.
 */
import { ApplicationFailure } from '@temporalio/common';
import { boundedProblems, boundedViolation } from './bounds';
import type { PolicyViolation } from './sandbox';
import { TERMINAL_STATES, type TaskState } from './lifecycle';

function nonRetryable(message: string, type: string, details: unknown[] = []): [string, string, boolean, unknown[]] {
  return [message, type, true, details];
}

/** The working spec breaks the CAWS schema or tier rules; details[0] lists every problem (up to 100). */
export class SpecInvalidError extends ApplicationFailure {
  static readonly type = 'SpecInvalidError';
  public readonly problems: string[];
  constructor(found: string[]) {
    // A spec made to break one rule thousands of times still fails with a bounded message.
    const problems = boundedProblems(found);
    super(...nonRetryable(`working spec is invalid: ${problems.join('; ')}`, SpecInvalidError.type, [problems]));
    this.problems = problems;
  }
}

/** No active agent can take the task (or the requested agent cannot); the reason says which. */
export class NoCapableAgentError extends ApplicationFailure {
  static readonly type = 'NoCapableAgentError';
  constructor(reason: string) {
    super(...nonRetryable(reason, NoCapableAgentError.type));
  }
}

/**
 * Capable agents exist but all are at their concurrency limit. Retryable on purpose: routing
 * backs off and tries again, so the task waits in ROUTING for capacity instead of failing.
 */
export class AgentsBusyError extends ApplicationFailure {
  static readonly type = 'AgentsBusyError';
  constructor(reason: string) {
    super(reason, AgentsBusyError.type, false);
  }
}

/** The delivered tree would differ from the verified one: a bug or tampering, never retried. */
export class DeliveryIntegrityError extends ApplicationFailure {
  static readonly type = 'DeliveryIntegrityError';
  constructor(reason: string) {
    super(...nonRetryable(reason, DeliveryIntegrityError.type));
  }
}

/**
 * A public key given to trust is not one Arbiter reads (a PEM SPKI ed25519 key or an OpenSSH
 * `ssh-ed25519` line): refused rather than skipped, so a typo never narrows or widens trust.
 */
export class KeyFormatError extends ApplicationFailure {
  static readonly type = 'KeyFormatError';
  constructor(source: string, reason: string) {
    super(...nonRetryable(`${source}: ${reason}`, KeyFormatError.type, [{ source, reason }]));
  }
}

/** A key file named to trust does not exist: never fall back to trusting something else. */
export class KeyFileMissingError extends ApplicationFailure {
  static readonly type = 'KeyFileMissingError';
  constructor(file: string) {
    super(...nonRetryable(`key file '${file}' does not exist`, KeyFileMissingError.type, [{ file }]));
  }
}

/**
 * A signing key, or the public half of one, that someone other than the operator may have chosen:
 * committed to the repository the default home (`./.arbiter`) lies in, linked in from elsewhere, or
 * writable by others. Its authors may hold the private half, so nothing may sign with it or trust it.
 */
export class KeyChosenByOthersError extends ApplicationFailure {
  static readonly type = 'KeyChosenByOthersError';
  constructor(file: string, reason: string, remedy: string) {
    super(...nonRetryable(`${file} ${reason}: ${remedy}`, KeyChosenByOthersError.type, [{ file, reason }]));
  }
}

/**
 * Arbiter's home came with a checkout: its database, Temporal state, host id and keys would be
 * whoever committed them's, so no worker or local stack keeps its state there.
 */
export class HomeChosenByOthersError extends ApplicationFailure {
  static readonly type = 'HomeChosenByOthersError';
  constructor(home: string, reason: string) {
    super(
      ...nonRetryable(
        `Arbiter's home ${home} ${reason}: a home that came with a checkout is not used; set ARBITER_HOME to a folder of its own`,
        HomeChosenByOthersError.type,
        [{ home, reason }],
      ),
    );
  }
}

/**
 * The worker key's `.pub` names another key than its signing key: someone replaced one of them,
 * so pinning the `.pub` would trust a key the worker never signs with, perhaps theirs.
 */
export class WorkerKeyMismatchError extends ApplicationFailure {
  static readonly type = 'WorkerKeyMismatchError';
  constructor(pub: string, pubKeyId: string, signingKey: string, signingKeyId: string) {
    super(
      ...nonRetryable(
        `${pub} names ${pubKeyId}, but the signing key ${signingKey} is ${signingKeyId}: one of them was replaced; nothing pinned`,
        WorkerKeyMismatchError.type,
      ),
    );
  }
}

/**
 * Nothing is trusted, so nothing can be verified: a signature checked only against the key the
 * envelope names proves nothing. The message says how to trust a key.
 */
export class NoTrustedKeyError extends ApplicationFailure {
  static readonly type = 'NoTrustedKeyError';
  constructor(keyring: string, howTo: string) {
    super(...nonRetryable(`no trusted key: ${keyring} is missing or empty; ${howTo}`, NoTrustedKeyError.type));
  }
}

/** The target repository is missing, not a git repository, or lacks the base ref. */
export class TargetRepoError extends ApplicationFailure {
  static readonly type = 'TargetRepoError';
  constructor(reason: string) {
    super(...nonRetryable(reason, TargetRepoError.type));
  }
}

/** A path resolves outside the task workspace or into a protected location. */
export class PathEscapeError extends ApplicationFailure {
  static readonly type = 'PathEscapeError';
  constructor(path: string, reason: string) {
    super(...nonRetryable(`path '${path}' refused: ${reason}`, PathEscapeError.type, [{ path, reason }]));
  }
}

/** The agent itself failed (bad plan, broken edit); counts against the agent, not infrastructure. */
export class AgentFailedError extends ApplicationFailure {
  static readonly type = 'AgentFailedError';
  /** `usage`: the model tokens and cost spent before it failed, which still count against the agent. */
  constructor(agentId: string, reason: string, usage?: { tokens: number; costUsd: number }) {
    super(
      ...nonRetryable(`agent '${agentId}' failed: ${reason}`, AgentFailedError.type, [{ agentId, reason, ...usage }]),
    );
  }
}

/** The gateway stopped the agent at one of its budgets (tokens, cost, wall clock); the agent's fault, named. */
export class AgentBudgetExceededError extends ApplicationFailure {
  static readonly type = 'AgentBudgetExceededError';
  constructor(agentId: string, reason: string) {
    super(
      ...nonRetryable(`agent '${agentId}' was stopped: ${reason}`, AgentBudgetExceededError.type, [
        { agentId, reason },
      ]),
    );
  }
}

/** The agent's configuration cannot be used (unknown kind, malformed config). */
export class AgentConfigError extends ApplicationFailure {
  static readonly type = 'AgentConfigError';
  constructor(agentId: string, reason: string) {
    super(...nonRetryable(`agent '${agentId}' is misconfigured: ${reason}`, AgentConfigError.type));
  }
}

/** The delivery branch already exists in the target with a different commit; never overwritten. */
export class DeliveryConflictError extends ApplicationFailure {
  static readonly type = 'DeliveryConflictError';
  constructor(branch: string, existing: string, wanted: string) {
    super(
      ...nonRetryable(
        `branch '${branch}' already exists in the target at ${existing}, not ${wanted}; refusing to overwrite`,
        DeliveryConflictError.type,
      ),
    );
  }
}

/** An activity got input its schema rejects: a bug or a hand-made start, never fixed by retrying. */
export class InvalidActivityInputError extends ApplicationFailure {
  static readonly type = 'InvalidActivityInputError';
  constructor(public readonly problems: string[]) {
    super(
      ...nonRetryable(`invalid activity input: ${problems.join('; ')}`, InvalidActivityInputError.type, [problems]),
    );
  }
}

/** The agent tried something its sandbox policy forbids; details[0] is the recorded violation, clipped to bounds. */
export class PolicyViolationError extends ApplicationFailure {
  static readonly type = 'PolicyViolationError';
  public readonly violation: PolicyViolation;
  constructor(refused: PolicyViolation) {
    const violation = boundedViolation(refused);
    super(
      ...nonRetryable(`${violation.op} '${violation.path}' refused: ${violation.reason}`, PolicyViolationError.type, [
        violation,
      ]),
    );
    this.violation = violation;
  }
}

/**
 * Commands cannot be confined on this worker (no usable bwrap). Arbiter fails closed: the
 * command is refused rather than run unconfined.
 */
export class SandboxUnavailableError extends ApplicationFailure {
  static readonly type = 'SandboxUnavailableError';
  constructor(reason: string) {
    super(
      ...nonRetryable(
        `commands are refused: the sandbox is unavailable on this worker (${reason})`,
        SandboxUnavailableError.type,
      ),
    );
  }
}

/**
 * Every uid of the sandbox range is leased to a task that still holds its workspace. Not a failure
 * of the task: workspaces are released as tasks end, so the workflow waits on a timer and prepares
 * again (workflows/sandbox-uid-wait.ts; runs from before that patch retried the activity instead).
 */
export class SandboxUidsExhaustedError extends ApplicationFailure {
  static readonly type = 'SandboxUidsExhaustedError';
  constructor(first: number, last: number) {
    super(
      `every sandbox uid (${first}-${last}) is held by a task's workspace; widen ARBITER_SANDBOX_UID_RANGE or wait`,
      SandboxUidsExhaustedError.type,
      false,
    );
  }
}

/**
 * A command or file tool for a task that holds no sandbox uid on this worker (its workspace was
 * removed, or never prepared here): running it under any other uid would share another task's.
 */
export class SandboxUidNotHeldError extends ApplicationFailure {
  static readonly type = 'SandboxUidNotHeldError';
  constructor(holder: string) {
    super(
      ...nonRetryable(
        `no sandbox uid is leased to '${holder}' (its workspace is gone or was prepared elsewhere)`,
        SandboxUidNotHeldError.type,
      ),
    );
  }
}

/**
 * An attempt to prepare or release a workspace that a later attempt already changed: the old
 * attempt (its worker stalled past its heartbeat timeout, then went on) must not wipe the workspace
 * the task now works in, or rebuild a released one. Retryable on purpose: Temporal ignores a
 * superseded attempt's outcome anyway, and a current attempt refused (the server's clock stepped
 * back) may pass when scheduled again, later.
 */
export class WorkspaceAttemptSupersededError extends ApplicationFailure {
  static readonly type = 'WorkspaceAttemptSupersededError';
  constructor(root: string, scheduledMs: number, markedMs: number) {
    super(
      `the workspace '${root}' was changed by an attempt scheduled at ${markedMs}, after this one (${scheduledMs})`,
      WorkspaceAttemptSupersededError.type,
      false,
    );
  }
}

/**
 * Another attempt has held a workspace's lock past the wait's patience: most likely a stalled
 * attempt Temporal already retried. Retryable, so the step is tried again (a preparation perhaps on
 * another host) instead of waiting out a stopped process.
 */
export class WorkspaceBusyError extends ApplicationFailure {
  static readonly type = 'WorkspaceBusyError';
  constructor(root: string, waitedMs: number) {
    super(`another attempt held the workspace '${root}' for over ${waitedMs} ms`, WorkspaceBusyError.type, false);
  }
}

/**
 * Another activity is running the same check on the same change. A failure stands once stored, so
 * a second run may not start before the first has stored its result; retryable, so the step runs
 * (or returns that failure) once the claim is given up or lapses.
 */
export class GateRunUnderWayError extends ApplicationFailure {
  static readonly type = 'GateRunUnderWayError';
  constructor(gate: string, treeId: string) {
    super(`gate ${gate} is already running on tree ${treeId}`, GateRunUnderWayError.type, false);
  }
}

/** The repository's setup (its policy's dependency install) failed; the task cannot be verified without it. */
export class SetupFailedError extends ApplicationFailure {
  static readonly type = 'SetupFailedError';
  constructor(reason: string) {
    super(...nonRetryable(`the repository's setup failed: ${reason}`, SetupFailedError.type, [{ reason }]));
  }
}

/** A file tool was asked for something that cannot be done (no match, several matches, too big). */
export class FileToolError extends ApplicationFailure {
  static readonly type = 'FileToolError';
  constructor(message: string) {
    super(...nonRetryable(message, FileToolError.type));
  }
}

/**
 * A CAWS policy that cannot be used; names each bad field. Thrown while parsing (no file known
 * yet) and again by the reader, which knows which file of the repository it was.
 */
export class PolicyInvalidError extends ApplicationFailure {
  static readonly type = 'PolicyInvalidError';
  constructor(
    public readonly problems: string[],
    file?: string,
  ) {
    super(
      ...nonRetryable(`${file ?? 'CAWS policy'} is invalid: ${problems.join('; ')}`, PolicyInvalidError.type, [
        problems,
      ]),
    );
  }
}

/** No agent with that id: a registry lookup that retrying cannot fix. */
export class UnknownAgentError extends ApplicationFailure {
  static readonly type = 'UnknownAgentError';
  constructor(id: string) {
    super(...nonRetryable(`no agent with id '${id}'`, UnknownAgentError.type));
    // Named like its type, as callers of the registry see it (the SDK's own name is read-only).
    Object.defineProperty(this, 'name', { value: UnknownAgentError.type });
  }
}

/**
 * An operator paused or retired the agent after routing chose it: a retry, or a run reset to
 * before its agent step, would start it again in the task's workspace after it was taken out of
 * service (found in review).
 */
export class AgentNotActiveError extends ApplicationFailure {
  static readonly type = 'AgentNotActiveError';
  constructor(agentId: string, status: string) {
    super(
      ...nonRetryable(`agent '${agentId}' is ${status}; it runs for no task until resumed`, AgentNotActiveError.type),
    );
  }
}

/** The approver may not decide waivers for this tenant and tier, or has decided too many too fast. */
export class WaiverNotAuthorizedError extends ApplicationFailure {
  static readonly type = 'WaiverNotAuthorizedError';
  constructor(reason: string) {
    super(...nonRetryable(reason, WaiverNotAuthorizedError.type));
  }
}

/**
 * A waiver the change rests on no longer stands when its verdict is signed: revoked, past its
 * expiry, or an approval lapsed (a key revoked) since it was stored. The task fails; a waiver is
 * the approvers' word only while they stand by it.
 */
export class WaiverNoLongerStandsError extends ApplicationFailure {
  static readonly type = 'WaiverNoLongerStandsError';
  constructor(reason: string) {
    super(...nonRetryable(reason, WaiverNoLongerStandsError.type));
  }
}

/**
 * The verdict about to be signed fails the checks its readers run (delivery, `verdict verify`):
 * its approvals name another change, too few people, a forged signature. Signing it would put a
 * statement in the record that Arbiter itself refuses, so the task fails instead.
 */
export class UnverifiableVerdictError extends ApplicationFailure {
  static readonly type = 'UnverifiableVerdictError';
  constructor(problems: string[]) {
    super(...nonRetryable(`the verdict would not verify: ${problems.join('; ')}`, UnverifiableVerdictError.type));
  }
}

/**
 * A submitter's gate takes a name the repository's policy (or Arbiter) already uses. Refused
 * rather than merged: a same-named gate would otherwise replace the repository's own check.
 */
export class GateNameReservedError extends ApplicationFailure {
  static readonly type = 'GateNameReservedError';
  constructor(public readonly problems: string[]) {
    super(...nonRetryable(`gate name(s) reserved: ${problems.join('; ')}`, GateNameReservedError.type, [problems]));
  }
}

/**
 * The repository's policy refuses the spec itself (its tier's allowed modes, a contract it needs).
 * Raised before routing: no agent's work could change the spec, so none is started, and the spec
 * gate would fail the verdict on the same rule after it ran.
 */
export class SpecRefusedByPolicyError extends ApplicationFailure {
  static readonly type = 'SpecRefusedByPolicyError';
  constructor(public readonly problems: string[]) {
    super(
      ...nonRetryable(
        `the repository's policy refuses the spec: ${problems.join('; ')}`,
        SpecRefusedByPolicyError.type,
        [problems],
      ),
    );
  }
}

/**
 * A conversation child whose parent is not the task run its conversation id names: started by
 * hand, or by another workflow, it could otherwise drive an agent in another task's workspace.
 */
export class ConversationParentMismatchError extends ApplicationFailure {
  static readonly type = 'ConversationParentMismatchError';
  constructor(actual: string, expected: string) {
    super(
      ...nonRetryable(
        `a conversation runs only as a child of ${expected}; its parent is ${actual}`,
        ConversationParentMismatchError.type,
      ),
    );
  }
}

/**
 * A candidate run whose parent is not the task it says it is a candidate of: started by hand, it
 * could otherwise stand in for a candidate the task will start, or pass for one.
 */
export class CandidateParentMismatchError extends ApplicationFailure {
  static readonly type = 'CandidateParentMismatchError';
  constructor(actual: string, expected: string) {
    super(
      ...nonRetryable(
        `a candidate runs only as a child of ${expected}; its parent is ${actual}`,
        CandidateParentMismatchError.type,
      ),
    );
  }
}

/** No candidate of a best-of-N task passed: each is named with how it ended. */
export class NoCandidatePassedError extends ApplicationFailure {
  static readonly type = 'NoCandidatePassed';
  constructor(reason: string) {
    super(...nonRetryable(`no candidate passed: ${reason}`, NoCandidatePassedError.type));
  }
}

/** The workflow id is not `task/<tenant>/<taskId>`: a second run under another id could otherwise act for the task. */
export class WorkflowIdMismatchError extends ApplicationFailure {
  static readonly type = 'WorkflowIdMismatchError';
  constructor(actual: string, expected: string) {
    super(
      ...nonRetryable(
        `workflow id '${actual}' is not this task's id '${expected}'; a task runs only under its own workflow id`,
        WorkflowIdMismatchError.type,
      ),
    );
  }
}

/** The task already ended in another run; a task id runs once, so its records are never reused. */
export class TaskAlreadyEndedError extends ApplicationFailure {
  static readonly type = 'TaskAlreadyEndedError';
  /**
   * `runId` is empty for a row written before runs were tracked. A task not yet in a terminal
   * state counts as ended once a run claimed its delivery (db/deliveries.ts).
   */
  constructor(task: string, state: string, runId: string) {
    const how = TERMINAL_STATES.includes(state as TaskState)
      ? `already ended ${state}`
      : `is delivered (state ${state})`;
    super(
      ...nonRetryable(
        `task ${task} ${how} in run ${runId || '(recorded before runs were tracked)'}; a task id runs once`,
        TaskAlreadyEndedError.type,
        [{ state, runId }],
      ),
    );
  }
}

/**
 * An `awaitTransition` asked to wait after fewer transitions than the task has made: it would
 * return at once, and a loop of those would grow history without bound. The watcher reads
 * `getState` instead, then waits after what it read.
 */
export class WatchBehindError extends ApplicationFailure {
  static readonly type = 'WatchBehindError';
  constructor(afterSeq: number, seen: number) {
    super(
      ...nonRetryable(`the task has made ${seen} transitions, not ${afterSeq}; read getState`, WatchBehindError.type),
    );
  }
}

/** An `awaitTransition` on a task that has ended: there is no next transition; read the result or `getState`. */
export class WatchEndedError extends ApplicationFailure {
  static readonly type = 'WatchEndedError';
  constructor(state: string) {
    super(...nonRetryable(`the task has ended ${state}; read getState`, WatchEndedError.type));
  }
}

/** Every watcher slot of the task is taken ((MAX_WATCHERS in domain/watch.ts)): refused unrecorded, so a flood costs no history. */
export class TooManyWatchersError extends ApplicationFailure {
  static readonly type = 'TooManyWatchersError';
  constructor(limit: number) {
    super(...nonRetryable(`${limit} watchers already wait on this task; try again later`, TooManyWatchersError.type));
  }
}

/** A stored record (verdict, routing decision, outcome) differs from what this run would write: fail closed, never reuse it. */
export class RecordMismatchError extends ApplicationFailure {
  static readonly type = 'RecordMismatchError';
  constructor(what: string, reason: string) {
    super(...nonRetryable(`stored ${what} does not belong to this run: ${reason}`, RecordMismatchError.type));
  }
}

/**
 * A conversation its task no longer waits for: the run that started it was reset to a point before
 * its start, or ended, and left it running. Its model calls and tool calls would act on the task's
 * workspace beside the run now in charge of the task, even while that run verifies.
 */
export class ConversationAbandonedError extends ApplicationFailure {
  static readonly type = 'ConversationAbandonedError';
  constructor(conversationId: string, currentRunId: string) {
    super(
      ...nonRetryable(
        `conversation '${conversationId}' is no longer its task's: the task's current run ${currentRunId} does not wait for it (the run that started it was reset or has ended)`,
        ConversationAbandonedError.type,
      ),
    );
  }
}

/**
 * A step was handed a policy, a gate or a policy's provenance other than what its run read from the
 * repository: someone with write access to the namespace chose the step's input. Fail closed.
 */
export class PolicyMismatchError extends ApplicationFailure {
  static readonly type = 'PolicyMismatchError';
  constructor(reason: string) {
    super(...nonRetryable(`not what the run read from the repository's policy: ${reason}`, PolicyMismatchError.type));
  }
}

/**
 * A stored artifact's bytes no longer have the digest its reference names: it was altered after
 * it was stored. Retrying reads the same bytes, so the step fails at once.
 */
export class ArtifactDigestMismatchError extends ApplicationFailure {
  static readonly type = 'ArtifactDigestMismatchError';
  constructor(id: string, expectedDigest: string) {
    super(
      ...nonRetryable(`artifact '${id}' does not match digest ${expectedDigest}`, ArtifactDigestMismatchError.type),
    );
  }
}

/** Delivery was asked for something the signed verdict does not cover; nothing is written. */
export class DeliveryNotCoveredError extends ApplicationFailure {
  static readonly type = 'DeliveryNotCoveredError';
  constructor(public readonly problems: string[]) {
    super(...nonRetryable(`delivery refused: ${problems.join('; ')}`, DeliveryNotCoveredError.type, [problems]));
  }
}

/**
 * The task names a repository its tenant has not registered — unknown, removed, or another
 * tenant's name. One message for all three: a tenant learns nothing about other tenants' names.
 */
export class UnknownRepoError extends ApplicationFailure {
  static readonly type = 'UnknownRepoError';
  /** `at`: the repository is named by its path (a step after resolution), not by a name. */
  constructor(tenantId: string, repo: string, at?: 'path') {
    const message =
      at === 'path'
        ? `no repository registered for tenant '${tenantId}' is at '${repo}' (its registration was removed or moved, or the path never was one)`
        : `repository '${repo}' is not registered for tenant '${tenantId}' (arbiter repos add --tenant ${tenantId} ${repo} PATH)`;
    super(...nonRetryable(message, UnknownRepoError.type, [{ tenantId, repo }]));
  }
}

/**
 * The task's workflow runs in a namespace other than the one configured for its tenant: someone
 * with access to one namespace started work for a tenant of another. Refused before any repository is read.
 */
export class TenantNamespaceError extends ApplicationFailure {
  static readonly type = 'TenantNamespaceError';
  constructor(tenantId: string, actual: string, expected: string) {
    super(
      ...nonRetryable(
        `tenant '${tenantId}' is served in namespace '${expected}', not '${actual}'; the task is refused`,
        TenantNamespaceError.type,
      ),
    );
  }
}

/**
 * PostgreSQL refused a statement for a reason retrying cannot change (SQLSTATE class 22 data
 * exception, 23 integrity violation, 42 syntax or access rule, …): failing at once instead of
 * retrying forever. Connection errors and outages are not this error; they stay retried.
 */
export class DatabaseRejectedError extends ApplicationFailure {
  static readonly type = 'DatabaseRejectedError';
  constructor(
    public readonly sqlState: string,
    reason: string,
  ) {
    super(
      ...nonRetryable(
        `the database refused the statement (SQLSTATE ${sqlState}): ${reason}`,
        DatabaseRejectedError.type,
        [{ sqlState }],
      ),
    );
  }
}

/**
 * A step named a base other than the commit its workspace was built from, or a tree to start from
 * that the task never measured there. Every object of the target repository is in a workspace's
 * store: measured from another commit, or started from another tree, any commit became the
 * agent's change, gated and signed (found in review).
 */
export class WorkspaceBaseMismatchError extends ApplicationFailure {
  static readonly type = 'WorkspaceBaseMismatchError';
  constructor(reason: string) {
    super(...nonRetryable(`not the workspace's own base: ${reason}`, WorkspaceBaseMismatchError.type));
  }
}

/**
 * Failures that are the submitter's fault while the task is validated: only these end a task
 * REJECTED. Anything else there (a database or worker failing past its retries) ends it FAILED.
 */
export const SUBMITTER_FAULT_TYPES = [
  SpecInvalidError.type,
  UnknownRepoError.type,
  TenantNamespaceError.type,
  InvalidActivityInputError.type,
];

/** The typed refusals: never retried, even when thrown retryable (activities/final-refusals.ts). */
export const NON_RETRYABLE_ERROR_TYPES = [
  SpecInvalidError.type,
  NoCapableAgentError.type,
  TargetRepoError.type,
  KeyFormatError.type,
  KeyFileMissingError.type,
  WorkerKeyMismatchError.type,
  KeyChosenByOthersError.type,
  HomeChosenByOthersError.type,
  NoTrustedKeyError.type,
  PathEscapeError.type,
  AgentFailedError.type,
  AgentBudgetExceededError.type,
  AgentConfigError.type,
  SetupFailedError.type,
  DeliveryConflictError.type,
  InvalidActivityInputError.type,
  DeliveryIntegrityError.type,
  PolicyViolationError.type,
  SandboxUnavailableError.type,
  SandboxUidNotHeldError.type,
  FileToolError.type,
  PolicyInvalidError.type,
  UnknownAgentError.type,
  AgentNotActiveError.type,
  WaiverNotAuthorizedError.type,
  GateNameReservedError.type,
  SpecRefusedByPolicyError.type,
  WorkflowIdMismatchError.type,
  TaskAlreadyEndedError.type,
  RecordMismatchError.type,
  WorkspaceBaseMismatchError.type,
  ConversationAbandonedError.type,
  ArtifactDigestMismatchError.type,
  DeliveryNotCoveredError.type,
  UnknownRepoError.type,
  TenantNamespaceError.type,
  DatabaseRejectedError.type,
];
