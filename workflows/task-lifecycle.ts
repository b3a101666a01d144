/**
 * `taskLifecycle`: one coding-agent task from RECEIVED to a terminal state. Each phase is a
 * small named step; the flow reads top to bottom like the lifecycle in DESIGN.md.
 */
import { CancellationScope, CancelledFailure, isCancellation, setHandler, workflowInfo } from '@temporalio/workflow';
import { hasOwnPatch, hasPatch } from './patches';
import {
  gateArgvProblems,
  TaskRunInputSchema,
  TaskInputSchemaBeforeCandidates,
  TaskInputSchemaBeforeLimits,
  type ParsedTaskInput,
  type TaskError,
  type TaskSnapshot,
} from '../domain/task';
import { clipText } from '../domain/bounds';
import {
  CandidateParentMismatchError,
  GateNameReservedError,
  SpecRefusedByPolicyError,
  SUBMITTER_FAULT_TYPES,
  WorkflowIdMismatchError,
} from '../domain/errors';
import { taskWorkflowId } from '../temporal-config';
import { gateNameClashes, policyRefusals } from '../domain/repo-policy';
import { routingContextOf } from '../domain/routing-context';
import {
  deliverChange,
  loadRepoPolicy,
  localSteps,
  resolveRepo,
  resolveRepoLocally,
  routeTask,
} from './activity-proxies';
import { cancelSignal, getStateQuery } from './definitions';
import { cancelsTask, describeFailure } from './failures';
import { RunCancellation } from './run-end';
import { feedbackAfterFailure, feedbackAfterVerdict } from './feedback';
import { TaskRun } from './task-run';
import { invalid, parseWorkflowInput } from './workflow-input';
import { RunSpec, runValidateSpec } from './run-spec';
import { registerWatch } from './watch';
import { dropUnknownSignals } from './unknown-signals';
import { retryWhileFailing } from './retry';
import { BEST_OF_N_PATCH, candidateCount, runBestOfN } from './candidates';
import { decideOutcome } from '../domain/verdict';
import { waivable, type GrantedDeskWaiver } from './waiver';
import { buildWorkspace, recordVerdict, releaseWorkspace, verifyInWorkspace, type Workspace } from './workspace-steps';

/** How verification ended: passed (VERIFIED), or the error the task fails with. */
type VerifyOutcome = { passed: true } | { passed: false; error: TaskError };

/**
 * Runs one task; returns the final snapshot (also for REJECTED and FAILED). A CANCELLED task's
 * run ends Canceled (its snapshot stays readable through `getState` and in PostgreSQL).
 */
export async function taskLifecycle(raw: ParsedTaskInput): Promise<TaskSnapshot> {
  const task = new TaskRun(parseInput(raw));
  const runCancellation = new RunCancellation();
  const work = new CancellationScope();
  setHandler(getStateQuery, () => task.snapshot);
  task.waiverDesk.register();
  registerWatch(task);
  // Anyone with namespace access can send this signal by hand, with no argument or any: a handler
  // that threw on that would fail every workflow task of the run, on every replay.
  setHandler(cancelSignal, (request?: { reason?: unknown }) => {
    const reason = typeof request?.reason === 'string' ? clipText(request.reason, 500) : 'cancel requested';
    if (!task.requestCancel(reason)) return;
    work.cancel();
    runCancellation.requestForSignal(task.input);
  });
  dropUnknownSignals();
  let cancelled: unknown;
  try {
    await work.run(() => runLifecycle(task));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    if (!task.terminal) await task.enter('CANCELLED', task.cancelReason ?? 'workflow cancellation requested');
    cancelled = err;
  }
  await releaseWorkspace(task);
  return runCancellation.end(task.snapshot, cancelled);
}

/** Patch id of the change that held task input to its size limits; runs started before replay without them. */
export const BOUNDED_TASK_INPUT_PATCH = 'bounded-task-input';
/** Patch id of the change that reserved candidates' task ids; runs started before replay without the check. */
export const CANDIDATE_INPUT_PATCH = 'candidate-inputs';
/** Room for the largest input the limits admit (a 64 KiB spec, 16 KiB of gate arguments), JSON-escaped. */
const MAX_TASK_INPUT_CHARACTERS = 256 * 1024;

/**
 * Input started by hand (`temporal workflow start`) gets the same checks as the client's; a bad
 * one fails the run at once, naming each problem, instead of failing workflow tasks forever.
 * A task runs only under its own workflow id `task/<tenant>/<taskId>`: under any other id a
 * second run could act for the task beside the first, so it fails at once, before any step; a
 * candidate runs only as the child of the task it is a candidate of.
 */
function parseInput(raw: unknown): ParsedTaskInput {
  const input = hasPatch(BOUNDED_TASK_INPUT_PATCH)
    ? parseWorkflowInput(
        hasPatch(CANDIDATE_INPUT_PATCH) ? TaskRunInputSchema : TaskInputSchemaBeforeCandidates,
        raw,
        'task input',
        MAX_TASK_INPUT_CHARACTERS,
      )
    : parseWorkflowInput(TaskInputSchemaBeforeLimits, raw, 'task input');
  const nul = gateArgvProblems(input.gates).map(({ message, path }) => `${path.join('.')}: ${message}`);
  if (nul.length && hasOwnPatch('gate-argv-without-nul')) throw invalid('task input', nul);
  const { workflowId, parent } = workflowInfo();
  const expected = taskWorkflowId(input);
  if (workflowId !== expected) throw new WorkflowIdMismatchError(workflowId, expected);
  if (input.candidateOf) {
    const owner = taskWorkflowId({ tenantId: input.tenantId, taskId: input.candidateOf.taskId });
    if (parent?.workflowId !== owner) throw new CandidateParentMismatchError(parent?.workflowId ?? 'none', owner);
  }
  return input;
}

async function runLifecycle(task: TaskRun): Promise<void> {
  await task.receive();
  const validated = await validateStep(task);
  if (!validated) return;
  try {
    await prepareRouting(task, validated);
    const candidates = candidateCount(task, validated);
    if (candidates > 1 && hasPatch(BEST_OF_N_PATCH)) {
      if (await runBestOfN(task, validated, candidates)) await completeStep(task, validated);
      return;
    }
    const agentId = await routeStep(task, validated);
    const workspace = await executeStep(task, validated, agentId);
    const verified = await verifyStep(task, validated, agentId, workspace);
    await feedbackAfterVerdict(task, validated.spec);
    if (verified.passed) await completeStep(task, validated);
    else await task.fail('FAILED', verified.error, { verdict: 'FAIL' });
  } catch (err) {
    if (cancelsTask(err)) throw err;
    const error = describeFailure(err);
    if (error.violation) task.addViolation(error.violation);
    await feedbackAfterFailure(task, validated.spec, error);
    await task.fail('FAILED', error);
  }
}

/**
 * VALIDATING_SPEC → SPEC_APPROVED, REJECTED with every problem when the submitter is at fault, or
 * FAILED when infrastructure is (a lookup failing past its retries). The repository name is
 * resolved first, under the task's tenant: a name the tenant has not registered is refused here.
 */
async function validateStep(task: TaskRun): Promise<RunSpec | undefined> {
  await task.enter('VALIDATING_SPEC');
  const { tenantId, taskId, specYaml, specFormat, repo } = task.input;
  try {
    task.setRepo(await (localSteps() ? resolveRepoLocally : resolveRepo)({ tenantId, taskId, repo }));
    const source = { tenantId, taskId, specYaml, specFormat };
    const validated = new RunSpec(await runValidateSpec(source), source);
    const { spec, warnings } = validated;
    task.recordSpec({
      id: spec.id,
      title: spec.title,
      riskTier: spec.riskTier,
      mode: spec.mode,
      format: spec.format,
      warnings,
    });
    await task.enter('SPEC_APPROVED', warnings.length ? `${warnings.length} warning(s)` : undefined, {
      specId: spec.id,
      riskTier: spec.riskTier,
      repoPath: task.repoPath,
    });
    return validated;
  } catch (err) {
    if (isCancellation(err)) throw err;
    const error = describeFailure(err);
    await task.fail(SUBMITTER_FAULT_TYPES.includes(error.type) ? 'REJECTED' : 'FAILED', error);
    return undefined;
  }
}

/**
 * → ROUTING. The repository's policy is read first, from its trusted ref, and the submitter's
 * gates and the spec are checked against it: a clash, or a spec its tier refuses, fails the task
 * before any agent runs.
 */
async function prepareRouting(task: TaskRun, { spec }: RunSpec): Promise<void> {
  await task.enter('ROUTING');
  const { tenantId, taskId } = task.input;
  task.setPolicy(await loadRepoPolicy({ tenantId, taskId, repoPath: task.repoPath }));
  const { policy } = task.trustedPolicy();
  const clashes = gateNameClashes(task.input.gates, policy);
  if (clashes.length) throw new GateNameReservedError(clashes);
  const refused = policyRefusals(spec, policy);
  if (refused.length && hasOwnPatch('spec-refused-before-routing')) throw new SpecRefusedByPolicyError(refused);
}

/** ROUTING → ROUTED: one agent, for the task's context. */
async function routeStep(task: TaskRun, { spec }: RunSpec): Promise<string> {
  const { tenantId, taskId, agentHint } = task.input;
  const context = routingContextOf(spec, task.trustedPolicy().policy, task.input.language);
  const decision = await routeTask({ tenantId, taskId, taskType: spec.mode, agentHint, context });
  task.recordRouting(decision);
  await task.enter('ROUTED', `agent ${decision.agentId}`, { agentId: decision.agentId });
  return decision.agentId;
}

/** EXECUTING → EXECUTION_COMPLETE: a workspace with the agent's change in it. */
async function executeStep(task: TaskRun, validated: RunSpec, agentId: string): Promise<Workspace> {
  await task.enter('EXECUTING');
  const { workspace, run } = await buildWorkspace(task, validated, agentId);
  task.recordAgentRun(run);
  await task.enter('EXECUTION_COMPLETE', run.summary);
  return workspace;
}

/**
 * VERIFYING → VERIFIED on PASS (or WAIVED). Failing gates send the change back to the agent while
 * the policy allows more attempts; a failure only waivable gates caused then waits for a
 * waiver; on FAIL the verdict is recorded and the outcome names the error the caller
 * ends the task FAILED with (the waiver's when it did not come, else the failed gates).
 */
async function verifyStep(
  task: TaskRun,
  validated: RunSpec,
  agentId: string,
  workspace: Workspace,
): Promise<VerifyOutcome> {
  await task.enter('VERIFYING');
  const ws = await retryWhileFailing(
    task,
    validated,
    agentId,
    await verifyInWorkspace(task, validated, agentId, workspace),
  );
  let granted: GrantedDeskWaiver | undefined;
  const { policy } = task.trustedPolicy();
  // A candidate asks no waiver: the task judges its candidates as they stand.
  const mayWaive = policy.waivers.enabled && !task.input.candidateOf;
  if (mayWaive && decideOutcome(task.snapshot.gates) === 'FAIL' && waivable(task.snapshot.gates)) {
    const answer = await task.waiverDesk.request(validated.spec, policy);
    if ('error' in answer) {
      await recordVerdict(task, validated, agentId, ws);
      return { passed: false, error: answer.error };
    }
    granted = answer;
  }
  await recordVerdict(task, validated, agentId, ws, granted);
  if (task.snapshot.verdict?.outcome === 'FAIL') return { passed: false, error: task.gatesFailedError() };
  await task.enter('VERIFIED', granted ? `waived by ${granted.waiverId}` : 'all gates passed', {
    verdict: task.snapshot.verdict?.outcome,
  });
  return { passed: true };
}

/**
 * VERIFIED → COMPLETED: the verified patch lands on its branch. Delivery, once begun, is never
 * cut short. A candidate delivers nothing: the task it belongs to delivers its winner.
 */
async function completeStep(task: TaskRun, { spec }: RunSpec): Promise<void> {
  const { tenantId, taskId, candidateOf } = task.input;
  if (candidateOf) {
    await task.enter('COMPLETED', `verified; not delivered: candidate ${candidateOf.index} of ${candidateOf.taskId}`, {
      verdict: task.snapshot.verdict?.outcome,
    });
    return;
  }
  refuseDeliveryOnceCancelled(task);
  const { verdict, diff } = task.snapshot;
  const baseCommit = task.deliveryBase;
  if (!verdict || !diff || !baseCommit) throw new Error('cannot deliver before a verdict');
  const deliveredAt = new Date().toISOString();
  const delivery = await CancellationScope.nonCancellable(() =>
    deliverChange({
      tenantId,
      taskId,
      repo: task.input.repo,
      repoPath: task.repoPath,
      baseCommit,
      treeId: diff.treeId,
      artifactId: diff.artifactId,
      patchDigest: diff.digest,
      specId: spec.id,
      verdictDigest: verdict.digest,
      deliveredAt,
    }),
  );
  task.recordDelivery(delivery);
  await task.enter('COMPLETED', `delivered to ${delivery.branch}`, { verdict: verdict.outcome });
}

/**
 * A task cancelled once its verdict was signed ends CANCELLED, undelivered. The steps after the
 * verdict cannot be cancelled, so a cancel sent then was recorded and the change delivered all the
 * same: an operator who cancels a suspect change must not find it on its branch. A delivery
 * already begun still finishes.
 */
function refuseDeliveryOnceCancelled(task: TaskRun): void {
  if (CancellationScope.current().consideredCancelled && hasOwnPatch('no-delivery-once-cancelled'))
    throw new CancelledFailure(task.cancelReason ?? 'workflow cancellation requested');
}
