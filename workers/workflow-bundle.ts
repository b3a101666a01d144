/**
 * How Arbiter's workflow code is bundled, the same for the worker, the tests and the replayer:
 * the entry point, the stateless modules every workflow shares (workflows/shared-modules.ts), and
 * the OpenTelemetry workflow interceptors. Those are always bundled, traced or not, so a worker's
 * tracing configuration never changes the code its workflows run.
 */
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundle } from '@temporalio/worker';

/** Path of the compiled workflows module the bundler starts from. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** The bundler options for Arbiter's workflows (WorkerOptions `workflowsPath` and `bundlerOptions` alike). */
export function workflowBundleOptions(): Pick<
  BundleOptions,
  'workflowsPath' | 'preloadModules' | 'workflowInterceptorModules'
> {
  return {
    workflowsPath: workflowsPath(),
    preloadModules: [require.resolve('../workflows/shared-modules')],
    workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
  };
}

/** Bundles Arbiter's workflows once, for workers that share a bundle (tests, replay). */
export function bundleArbiterWorkflows(logger: BundleOptions['logger']): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ ...workflowBundleOptions(), logger });
}
