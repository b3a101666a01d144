/** Driving one task through the shared stack's client, as a submitter would. */
import type { MockActivityEnvironment } from '@temporalio/testing';
import type { ArbiterActivities } from '../../activities';
import { routingDecisions } from '../../db/schema';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { testStack } from './stack';

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
  await env.run(a.routeTask, { ...ref, taskType: 'feature', agentHint: agentId });
}

/**
 * Records `run`'s task as routed to `agentId`, as `routeTask` would have, for tests that drive the
 * judging steps directly: a verdict names only an agent routing chose.
 */
export async function recordRouted(run: { tenantId: string; taskId: string; runId: string }, agentId = 'agent') {
  await testStack()
    .database.db.insert(routingDecisions)
    .values({ ...run, agentId, taskType: 'feature', reason: 'routed by the test', candidates: [] })
    .onConflictDoNothing();
}
