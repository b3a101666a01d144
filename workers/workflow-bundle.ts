/**
 * How Arbiter's workflow code is bundled, the same for the worker, the tests and the replayer:
 * the entry point, the stateless modules every workflow shares (workflows/shared-modules.ts), the
 * interceptors that write a run's search attributes once per workflow task (workflows/visibility.ts)
 * and drop signals no handler could decode (workflows/unknown-signals.ts), and, when the worker traces, the OpenTelemetry workflow interceptors. Only then: they make spans of
 * every step inside the workflow thread, which cost a worker under load about a third of its CPU
 * (bench/PERFORMANCE.md). They add no command, so a traced and an untraced worker replay each
 * other's histories (test/replay).
 */
import * as path from 'node:path';
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundle } from '@temporalio/worker';

/** The folder holding the compiled tree (`lib/`'s parent): module names in the bundle are relative to it. */
export const BUNDLE_ROOT = path.resolve(__dirname, '..', '..');

/** Path of the compiled workflows module the bundler starts from. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** The bundler options for Arbiter's workflows (WorkerOptions `workflowsPath` and `bundlerOptions` alike). */
export function workflowBundleOptions(
  traced = false,
): Pick<BundleOptions, 'workflowsPath' | 'preloadModules' | 'workflowInterceptorModules' | 'webpackConfigHook'> {
  return {
    workflowsPath: workflowsPath(),
    preloadModules: [require.resolve('../workflows/shared-modules')],
    workflowInterceptorModules: [
      require.resolve('../workflows/visibility'),
      require.resolve('../workflows/unknown-signals'),
      ...(traced ? [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')] : []),
    ],
    // Webpack names modules relative to its context, the working directory unless set: the same
    // code started from another directory must bundle the same (ARBITER_BUILD_ID=auto hashes it).
    webpackConfigHook: (config) => ({ ...config, context: BUNDLE_ROOT }),
  };
}

/** Bundles Arbiter's workflows once, for workers that share a bundle (tests, replay), traced or not. */
export function bundleArbiterWorkflows(logger: BundleOptions['logger'], traced = false): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ ...workflowBundleOptions(traced), logger });
}
