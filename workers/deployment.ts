/**
 * Worker Deployment Versioning: a worker started with a build id serves its deployment's
 * version, and every task's workflow is pinned to the version it started on. A new build never
 * replays a history an older build wrote: the old version's workers finish their runs while
 * new tasks go to the current version. Rolling out is choosing the current version
 * (`temporal worker deployment set-current-version`, README *Operating Arbiter*); a worker can
 * make itself current at start (workers/promotion.ts).
 */
import { createHash } from 'node:crypto';
import { Runtime, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { BUNDLE_ROOT, bundleArbiterWorkflows } from './workflow-bundle';
import { z } from 'zod';

/** How a starting worker treats the deployment's current version. */
export const PROMOTE_MODES = ['when-unset', 'always', 'never'] as const;

/** The variables that put a worker under versioning; without ARBITER_BUILD_ID it runs unversioned. */
export const DeploymentEnvSchema = z.object({
  /** This worker's build: a new one for every change to workflow code; `auto` derives it from that code. */
  ARBITER_BUILD_ID: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64')
    .optional(),
  ARBITER_DEPLOYMENT_NAME: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64')
    .default('arbiter'),
  ARBITER_PROMOTE_ON_START: z.enum(PROMOTE_MODES).default('when-unset'),
  ARBITER_VERSIONING_BEHAVIOR: z.enum(['pinned', 'auto-upgrade']).default('pinned'),
});

/** A versioned worker's place in its deployment. */
export interface DeploymentConfig {
  name: string;
  buildId: string;
  promote: (typeof PROMOTE_MODES)[number];
  /**
   * `pinned`: a run stays on its build to the end (no build replays another's history; old
   * builds poll until their last run ends). `auto-upgrade`: open runs move to the current build
   * at their next workflow task, which then relies on `patched` and the replay test.
   */
  behavior: 'pinned' | 'auto-upgrade';
}

/** The deployment the variables name, or undefined (unversioned) without a build id. */
export function deploymentFromEnv(e: z.output<typeof DeploymentEnvSchema>): DeploymentConfig | undefined {
  return e.ARBITER_BUILD_ID
    ? {
        name: e.ARBITER_DEPLOYMENT_NAME,
        buildId: e.ARBITER_BUILD_ID,
        promote: e.ARBITER_PROMOTE_ON_START,
        behavior: e.ARBITER_VERSIONING_BEHAVIOR,
      }
    : undefined;
}

/**
 * The options that version the worker that runs workflows, runs pinned unless configured
 * otherwise. The per-host activity queues stay unversioned: their names are per host, not per
 * build, and any build's activities run there.
 */
export function versionedWorkerOptions(deployment: DeploymentConfig): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  return {
    workerDeploymentOptions: {
      version: { deploymentName: deployment.name, buildId: deployment.buildId },
      useWorkerVersioning: true,
      defaultVersioningBehavior: deployment.behavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE',
    },
  };
}

/** The ARBITER_BUILD_ID that names the build after its workflow code. */
export const AUTO_BUILD_ID = 'auto';

/**
 * The build id `auto` stands for: a digest of the bundled workflow code, so changed code is a
 * new build. The install's own path, which the bundle quotes (its entry point, source maps), is
 * left out: the same code installed elsewhere is the same build.
 */
export function buildIdOfWorkflowCode(code: string): string {
  const placeless = code.split(BUNDLE_ROOT).join('<root>');
  return `wf-${createHash('sha256').update(placeless).digest('hex').slice(0, 16)}`;
}

/**
 * The workflow bundle, when there is one before the worker starts, and the deployment with its
 * build id: `auto` is the digest of the bundled code, so the bundle is made here to name it. The
 * digest is of the untraced bundle: turning tracing on adds interceptors, not commands, and must
 * not make a new build of the same workflows.
 */
export async function codeAndBuild(
  deployment: DeploymentConfig | undefined,
  workflowBundle?: WorkflowBundle,
  traced = false,
) {
  if (deployment?.buildId !== AUTO_BUILD_ID) return { bundle: workflowBundle, deployment };
  const logger = Runtime.instance().logger;
  const untraced = workflowBundle ?? (await bundleArbiterWorkflows(logger));
  const bundle = workflowBundle ?? (traced ? await bundleArbiterWorkflows(logger, true) : untraced);
  return { bundle, deployment: { ...deployment, buildId: buildIdOfWorkflowCode(untraced.code) } };
}
