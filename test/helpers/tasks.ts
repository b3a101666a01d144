/** Driving one task through the shared stack's client, as a submitter would. */
import type { MockActivityEnvironment } from '@temporalio/testing';
import type { ArbiterActivities } from '../../activities';
import { randomUUID } from 'node:crypto';
import { routingDecisions, tasks, verdicts } from '../../db/schema';
import type { PrepareWorkspaceInput, PreparedWorkspace } from '../../domain/activity-io';
import type { VerdictPayload } from '../../domain/verdict';
import type { TaskInput, TaskSnapshot, VerdictOutcome } from '../../domain/task';
import { testStack } from './stack';
import { taskWorkflowId } from '../../temporal-config';

/** Submits the task and follows it to its terminal snapshot. */
export async function runToEnd(input: TaskInput): Promise<TaskSnapshot> {
  const { client } = testStack();
  await client.submit(input);
  return client.watch(input, undefined, 200);
}

/**
 * Routes `ref`'s task to `agentId` through the real `routeTask` (as `env`'s run): the steps that
 * act for an agent (its run, its conversation, its outcome and health) accept only a routed one.
 */
export async function routeTo(
  env: MockActivityEnvironment,
  a: Pick<ArbiterActivities, 'routeTask'>,
  ref: { tenantId: string; taskId: string },
  agentId: string,
): Promise<void> {
  await ownTask(env, ref);
  await env.run(a.routeTask, { ...ref, taskType: 'feature', agentHint: agentId });
}

/**
 * Records `ref`'s task as `env`'s run's, in ROUTING (in `repoPath`, when named), as that run's
 * transitions would have: the steps that act for a task act only for the run that owns its row.
 */
export async function ownTask(
  env: MockActivityEnvironment,
  ref: { tenantId: string; taskId: string },
  repoPath?: string,
): Promise<void> {
  const { workflowId, runId } = env.context.info.workflowExecution!;
  await testStack()
    .database.db.insert(tasks)
    .values({ ...ref, id: ref.taskId, workflowId, runId, state: 'ROUTING', lastSeq: 3, repoPath })
    .onConflictDoUpdate({ target: [tasks.tenantId, tasks.id], set: { workflowId, runId, state: 'ROUTING', repoPath } });
}

/** Stores a verdict of `outcome` for `env`'s run of `ref`'s task, judged for `agentId` with `gates`. */
export async function storeVerdictOf(
  env: MockActivityEnvironment,
  ref: { tenantId: string; taskId: string },
  agentId: string,
  outcome: VerdictOutcome,
  gates: Array<'pass' | 'fail'>,
): Promise<void> {
  const { runId } = env.context.info.workflowExecution!;
  const payload = {
    agentId,
    gates: gates.map((status, i) => ({ name: `g${i}`, status })),
  } as unknown as VerdictPayload;
  await testStack()
    .database.db.insert(verdicts)
    .values({ id: randomUUID(), ...ref, runId, outcome, digest: `sha256:${'0'.repeat(64)}`, payload, envelope: '{}' });
}

/**
 * Records `run`'s task as routed to `agentId`, as `routeTask` would have, for tests that drive the
 * judging steps directly: a verdict names only an agent routing chose, and the judging steps act
 * only for a run that owns the task's row (recorded here, in ROUTED, unless the task has one).
 */
export async function recordRouted(run: { tenantId: string; taskId: string; runId: string }, agentId = 'agent') {
  const { db } = testStack().database;
  await db
    .insert(tasks)
    .values({ ...run, id: run.taskId, workflowId: taskWorkflowId(run), state: 'ROUTED', lastSeq: 4 })
    .onConflictDoNothing();
  await db
    .insert(routingDecisions)
    .values({ ...run, agentId, taskType: 'feature', reason: 'routed by the test', candidates: [] })
    .onConflictDoNothing();
}

/** `prepareWorkspace` as the run of `env` that owns the task (recorded here first, in the repository named). */
export async function prepareOwned(
  env: MockActivityEnvironment,
  a: Pick<ArbiterActivities, 'prepareWorkspace'>,
  input: PrepareWorkspaceInput,
): Promise<PreparedWorkspace> {
  await ownTask(env, input, input.repoPath);
  return (await env.run(a.prepareWorkspace, input)) as PreparedWorkspace;
}

/** Records `ref`'s RECEIVED transition as `env`'s run's first, as a task run does: the run then owns the task (or takes it over). */
export async function recordReceived(
  env: MockActivityEnvironment,
  a: Pick<ArbiterActivities, 'recordTransition'>,
  ref: { tenantId: string; taskId: string },
): Promise<void> {
  const at = new Date().toISOString();
  await env.run(a.recordTransition, {
    ...ref,
    workflowId: taskWorkflowId(ref),
    seq: 0,
    from: null,
    to: 'RECEIVED' as const,
    at,
  });
}
