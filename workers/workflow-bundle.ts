/**
 * How Arbiter's workflow code is bundled, the same for the worker, the tests and the replayer:
 * the entry point, and the stateless modules every workflow shares (workflows/shared-modules.ts).
 */
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundle } from '@temporalio/worker';

/** Path of the compiled workflows module the bundler starts from. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** The bundler options for Arbiter's workflows (WorkerOptions `workflowsPath` and `bundlerOptions` alike). */
export function workflowBundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'preloadModules'> {
  return { workflowsPath: workflowsPath(), preloadModules: [require.resolve('../workflows/shared-modules')] };
}

/** Bundles Arbiter's workflows once, for workers that share a bundle (tests, replay). */
export function bundleArbiterWorkflows(logger: BundleOptions['logger']): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ ...workflowBundleOptions(), logger });
}
