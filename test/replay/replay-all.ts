/**
 * Replaying fixtures without a server, shared by the replay suites: the bundles they replay
 * against and the replay itself, each failure named by its fixture.
 */
import { bundleWorkflowCode, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { SILENT_LOGGER } from '../../workers/logger';
import { tracingWorkerOptions } from '../../workers/telemetry';
import { workflowBundleOptions } from '../../workers/workflow-bundle';
import type { HistoryFixture } from './history-fixtures';

/** `workflowsPath` bundled as Arbiter's workflows are, with the same shared modules: an altered bundle's. */
export function bundleAt(workflowsPath: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ ...workflowBundleOptions(), workflowsPath, logger: SILENT_LOGGER });
}

/**
 * Installs a runtime that keeps core's logs off the console, where the negative cases'
 * nondeterminism warnings are expected; run beside the stack's suites, whose runtime (and log
 * file) is installed already, it keeps that one.
 */
export function installQuietRuntime(): void {
  try {
    Runtime.install({ logger: SILENT_LOGGER, telemetryOptions: { logging: { forward: {} } } });
  } catch {
    // installed already
  }
}

/**
 * Replays `fixtures` with `workflowBundle`; returns each fixture's failure by `<set>/<path>`.
 * Results are matched to fixtures in order (the replayer runs one history at a time): the runs of
 * one child workflow share its workflow id.
 */
export async function replayAll(
  workflowBundle: WorkflowBundle,
  fixtures: HistoryFixture[],
): Promise<Map<string, Error>> {
  const failures = new Map<string, Error>();
  const histories = fixtures.map(({ workflowId, history }) => ({ workflowId, history }));
  let index = 0;
  for await (const result of Worker.runReplayHistories(
    { workflowBundle, sinks: tracingWorkerOptions().sinks },
    histories,
  )) {
    const { set, path } = fixtures[index++];
    if (result.error) failures.set(`${set}/${path}`, result.error);
  }
  return failures;
}
