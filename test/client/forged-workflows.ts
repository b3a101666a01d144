/**
 * An insider's own workflow code under a task's workflow id (test/client/forged-run.test.ts): it
 * answers Arbiter's queries and updates with the snapshots it is given, and keeps the decisions sent to it.
 */
import {
  ActivityFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';

export interface ForgedInput {
  snapshots: unknown[];
  final?: unknown;
}

export async function forgedTask(input: ForgedInput): Promise<unknown> {
  let done = false;
  const captured: unknown[] = [];
  const answer = () => input.snapshots[0];
  setHandler(defineQuery<unknown>('getState'), answer);
  setHandler(defineQuery<unknown[]>('captured'), () => captured);
  setHandler(defineSignal('finish'), () => void (done = true));
  setHandler(defineUpdate<unknown, [unknown]>('awaitTransition'), async () => input.final ?? answer());
  for (const name of ['approveWaiver', 'rejectWaiver'])
    setHandler(defineUpdate<unknown, [unknown]>(name), (signed: unknown) => {
      captured.push(signed);
      return { status: 'approved', approvals: 2, approversRequired: 2 };
    });
  await condition(() => done);
  return input.final ?? answer();
}

/**
 * {@link forgedTask} that first tries to write the task's record as Arbiter's own step would:
 * COMPLETED with a PASS, under this run (any run may take over a task not ended). The refusal it
 * meets (no verdict of this run is stored) is kept for the query `recordRefused`.
 */
export async function forgedRecorder(
  input: ForgedInput & { arbiterQueue: string; tenantId: string; taskId: string },
): Promise<unknown> {
  let refused: string | null = null;
  setHandler(defineQuery<string | null>('recordRefused'), () => refused);
  const { recordTransition } = proxyActivities<{ recordTransition(i: unknown): Promise<void> }>({
    taskQueue: input.arbiterQueue,
    startToCloseTimeout: '30s',
  });
  const { tenantId, taskId } = input;
  const at = new Date().toISOString();
  const { workflowId } = workflowInfo();
  try {
    await recordTransition({
      tenantId,
      taskId,
      workflowId,
      seq: 99,
      from: 'VERIFYING',
      to: 'COMPLETED',
      at,
      task: { verdict: 'PASS' },
    });
    refused = 'written';
  } catch (err) {
    refused = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
  }
  return forgedTask(input);
}
