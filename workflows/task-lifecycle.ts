/**
 * `taskLifecycle`: one coding-agent task from RECEIVED to a terminal state. Each phase is a
 * small named step; the flow reads top to bottom like the lifecycle in DESIGN.md.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, isCancellation, setHandler } from '@temporalio/workflow';
import type { ValidateSpecResult } from '../domain/activity-io';
import { SpecInvalidError } from '../domain/errors';
import { decideOutcome } from '../domain/verdict';
import type { ParsedTaskInput, TaskError, TaskSnapshot } from '../domain/task';
import {
  checkBudgetAndScope,
  deliverChange,
  executeAgent,
  issueVerdict,
  measureDiff,
  prepareWorkspace,
  routeTask,
  runGateFor,
  validateSpec,
} from './activity-proxies';
import { cancelSignal, getStateQuery } from './definitions';
import { TaskRun } from './task-run';

/** Runs one task; returns the final snapshot (also for REJECTED, FAILED and CANCELLED). */
export async function taskLifecycle(input: ParsedTaskInput): Promise<TaskSnapshot> {
  const task = new TaskRun(input);
  const work = new CancellationScope();
  setHandler(getStateQuery, () => task.snapshot);
  setHandler(cancelSignal, ({ reason }) => {
    if (task.terminal || task.cancelReason) return;
    task.cancelReason = reason ?? 'cancel requested';
    work.cancel();
  });
  try {
    await work.run(() => runLifecycle(task));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    if (!task.terminal) await task.enter('CANCELLED', task.cancelReason ?? 'workflow cancellation requested');
  }
  return task.snapshot;
}

async function runLifecycle(task: TaskRun): Promise<void> {
  await task.receive();
  const validated = await validateStep(task);
  if (!validated) return;
  try {
    await deliveryPipeline(task, validated);
  } catch (err) {
    if (isCancellation(err)) throw err;
    await task.fail('FAILED', describeFailure(err));
  }
}

/** VALIDATING_SPEC → SPEC_APPROVED, or REJECTED with every problem. */
async function validateStep(task: TaskRun): Promise<ValidateSpecResult | undefined> {
  await task.enter('VALIDATING_SPEC');
  const { tenantId, taskId, specYaml, specFormat } = task.input;
  try {
    const validated = await validateSpec({ tenantId, taskId, specYaml, specFormat });
    const { spec, warnings } = validated;
    task.snapshot.spec = { id: spec.id, title: spec.title, riskTier: spec.riskTier, mode: spec.mode, format: spec.format, warnings };
    await task.enter('SPEC_APPROVED', warnings.length ? `${warnings.length} warning(s)` : undefined, {
      specId: spec.id,
      riskTier: spec.riskTier,
    });
    return validated;
  } catch (err) {
    if (isCancellation(err)) throw err;
    await task.fail('REJECTED', describeFailure(err));
    return undefined;
  }
}

async function deliveryPipeline(task: TaskRun, validated: ValidateSpecResult): Promise<void> {
  const agentId = await routeStep(task, validated);
  const workspace = await executeStep(task, validated, agentId);
  const passed = await verifyStep(task, validated, agentId, workspace);
  if (passed) await completeStep(task, validated, workspace);
}

/** ROUTING → ROUTED. */
async function routeStep(task: TaskRun, { spec }: ValidateSpecResult): Promise<string> {
  await task.enter('ROUTING');
  const { tenantId, taskId, agentHint } = task.input;
  const decision = await routeTask({ tenantId, taskId, taskType: spec.mode, agentHint });
  task.snapshot.routing = { agentId: decision.agentId, reason: decision.reason, candidates: decision.candidates.length };
  await task.enter('ROUTED', `agent ${decision.agentId}`, { agentId: decision.agentId });
  return decision.agentId;
}

type Workspace = { workspacePath: string; baseCommit: string };

/** EXECUTING → EXECUTION_COMPLETE: workspace, then the agent. */
async function executeStep(task: TaskRun, { spec }: ValidateSpecResult, agentId: string): Promise<Workspace> {
  await task.enter('EXECUTING');
  const { tenantId, taskId, repoPath, baseRef } = task.input;
  const workspace = await prepareWorkspace({ tenantId, taskId, repoPath, baseRef });
  task.snapshot.workspace = { baseCommit: workspace.baseCommit };
  const run = await executeAgent({ tenantId, taskId, agentId, workspacePath: workspace.workspacePath, spec });
  await task.enter('EXECUTION_COMPLETE', run.summary);
  return workspace;
}

/** VERIFYING: diff, budget and scope, then each gate; a FAIL verdict ends the task FAILED. */
async function verifyStep(task: TaskRun, validated: ValidateSpecResult, agentId: string, ws: Workspace): Promise<boolean> {
  await task.enter('VERIFYING');
  const { tenantId, taskId, gates: commands } = task.input;
  const common = { tenantId, taskId, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
  const diff = await measureDiff(common);
  task.snapshot.diff = { filesChanged: diff.filesChanged, linesAdded: diff.linesAdded, linesDeleted: diff.linesDeleted, digest: diff.digest };
  task.snapshot.gates = await checkBudgetAndScope({ ...common, spec: validated.spec });
  for (const gate of commands) {
    task.snapshot.subState = `gate:${gate.name}`;
    task.snapshot.gates.push(await runGateFor(gate)({ tenantId, taskId, workspacePath: ws.workspacePath, gate }));
  }
  task.snapshot.subState = null;
  if (decideOutcome(task.snapshot.gates) === 'PASS') {
    await task.enter('VERIFIED', 'all gates passed');
    await recordVerdict(task, validated, agentId, ws, diff);
    return true;
  }
  await recordVerdict(task, validated, agentId, ws, diff);
  const failed = task.snapshot.gates.filter((g) => g.status === 'fail').map((g) => g.name);
  await task.fail('FAILED', { type: 'GatesFailed', message: `gate(s) failed: ${failed.join(', ')}` }, { verdict: 'FAIL' });
  return false;
}

async function recordVerdict(
  task: TaskRun,
  { spec, specDigest }: ValidateSpecResult,
  agentId: string,
  ws: Workspace,
  diff: Parameters<typeof issueVerdict>[0]['diff'],
): Promise<void> {
  const { tenantId, taskId } = task.input;
  const verdict = await issueVerdict({
    tenantId,
    taskId,
    specId: spec.id,
    specDigest,
    agentId,
    baseCommit: ws.baseCommit,
    diff,
    gates: task.snapshot.gates,
  });
  task.setVerdict({ outcome: verdict.outcome, digest: verdict.digest });
}

/** VERIFIED → COMPLETED: the change lands on its branch. Delivery, once begun, is never cut short. */
async function completeStep(task: TaskRun, { spec }: ValidateSpecResult, ws: Workspace): Promise<void> {
  const { tenantId, taskId, repoPath } = task.input;
  const verdict = task.snapshot.verdict!;
  task.snapshot.delivery = await CancellationScope.nonCancellable(() =>
    deliverChange({ tenantId, taskId, repoPath, specId: spec.id, verdictDigest: verdict.digest, ...ws }),
  );
  await task.enter('COMPLETED', `delivered to ${task.snapshot.delivery.branch}`, { verdict: verdict.outcome });
}

/** Turns an activity failure into the task's error, keeping a spec's problem list. */
function describeFailure(err: unknown): TaskError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    const problems = cause.type === SpecInvalidError.type ? (cause.details?.[0] as string[] | undefined) : undefined;
    return { type: cause.type ?? 'ApplicationFailure', message: cause.message, ...(problems ? { problems } : {}) };
  }
  return { type: 'Error', message: err instanceof Error ? err.message : String(err) };
}
