/**
 * How the recorder writes a run's history as a replay fixture (test/replay): the task's run, then
 * every run of each child workflow it started (its openai conversation, each run it continued
 * as new into; best of N's candidates), which open tasks replay through the deployed code too.
 */
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { ArbiterClient } from '../../client/arbiter-client';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { workflowBundleOptions } from '../../workers/workflow-bundle';
import { getStateQuery } from '../../workflows/definitions';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { uniqueId } from '../helpers/fixtures';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';
import { childFixtureName, recordingDir, writeHistoryFixture, type LifecyclePath } from '../replay/history-fixtures';

type History = temporal.api.history.v1.IHistory;
type Execution = temporal.api.common.v1.IWorkflowExecution;

/**
 * Waits for the run itself to close (the release after the terminal state included), then writes
 * its history and its children's. A cancelled task's run ends Canceled, so the final snapshot is
 * read by query.
 */
export async function record(name: LifecyclePath, ref: TaskRef, client = testStack().client): Promise<TaskSnapshot> {
  const handle = client.temporal.workflow.getHandle(taskWorkflowId(ref));
  await handle.result().catch((err: unknown) => {
    if (!(err instanceof WorkflowFailedError && err.cause instanceof CancelledFailure)) throw err;
  });
  const final = await handle.query(getStateQuery);
  await writeRun(client, name, handle.workflowId, await handle.fetchHistory());
  return final;
}

/** Submits `input` and {@link record}s its run. */
export async function submitAndRecord(
  name: LifecyclePath,
  input: TaskInput & TaskRef,
  client = testStack().client,
): Promise<TaskSnapshot> {
  await client.submit(input);
  return record(name, input, client);
}

/** Writes one run's history as fixture `name`, then every run of the children it started. */
async function writeRun(client: ArbiterClient, name: string, workflowId: string, history: History): Promise<void> {
  const file = writeHistoryFixture(recordingDir(), name, workflowId, history);
  process.stdout.write(`      recorded ${file}\n`);
  const started = (history.events ?? []).flatMap(
    (e) => e.childWorkflowExecutionStartedEventAttributes?.workflowExecution ?? [],
  );
  for (const [i, child] of started.entries()) await writeChildRuns(client, name, i + 1, child);
}

/**
 * Writes child `k` of run `parent`: its first run (closed, as its parent is), then each run it
 * continued as new into, following the chain its histories record.
 */
async function writeChildRuns(client: ArbiterClient, parent: string, k: number, child: Execution): Promise<void> {
  let runId = child.runId ?? undefined;
  for (let run = 1; runId; run++) {
    const history = await client.temporal.workflow.getHandle(child.workflowId!, runId).fetchHistory();
    await writeRun(client, childFixtureName(parent, k, run), child.workflowId!, history);
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
}

/**
 * Runs `fn` with a client of a worker of its own whose workflows bundle small-history-budget.ts:
 * the conversations its tasks start continue as new after each turn, so a short scripted
 * conversation records runs that did.
 */
export async function onSmallBudgetWorker<T>(fn: (client: ArbiterClient) => Promise<T>): Promise<T> {
  const options = workflowBundleOptions();
  const workflowBundle = await bundleWorkflowCode({
    ...options,
    workflowInterceptorModules: [
      ...(options.workflowInterceptorModules ?? []),
      require.resolve('./small-history-budget'),
    ],
    logger: SILENT_LOGGER,
  });
  const taskQueue = uniqueId('record-small-budget');
  const client = await clientOnQueue(taskQueue);
  const worker = await testStack().startWorker(taskQueue, traversableTempDir('arbiter-record-budget-'), {
    workflowBundle,
  });
  try {
    return await fn(client);
  } finally {
    await stopWorker(worker);
    await client.close();
  }
}
