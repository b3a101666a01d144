/**
 * An insider's own workflow code under a task's workflow id (test/client/forged-run.test.ts): it
 * answers Arbiter's queries and updates with the snapshots it is given, and keeps the decisions sent to it.
 */
import { condition, defineQuery, defineSignal, defineUpdate, setHandler, workflowInfo } from '@temporalio/workflow';

export interface ForgedInput {
  snapshots: unknown[];
  final?: unknown;
  /** Its pending request names this run, not the one the snapshot came from. */
  claimOwnRun?: boolean;
}

export async function forgedTask(input: ForgedInput): Promise<unknown> {
  let i = 0;
  let done = false;
  const captured: unknown[] = [];
  const answer = () => {
    const s = input.snapshots[Math.min(i, input.snapshots.length - 1)] as { pendingWaiver?: object | null };
    if (!input.claimOwnRun || !s.pendingWaiver) return s;
    return { ...s, pendingWaiver: { ...s.pendingWaiver, runId: workflowInfo().runId } };
  };
  setHandler(defineQuery<unknown>('getState'), answer);
  setHandler(defineQuery<unknown[]>('captured'), () => captured);
  setHandler(defineSignal('next'), () => void i++);
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
