/**
 * Worker Deployment Versioning: a worker started with a build id serves its deployment's
 * version, and every task's workflow is pinned to the version it started on. A new build never
 * replays a history an older build wrote: the old version's workers finish their runs while
 * new tasks go to the current version. Rolling out is choosing the current version
 * (`temporal worker deployment set-current-version`, README *Operating Arbiter*); a worker can
 * make itself current at start when nothing is (the first deploy), or always, when asked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError } from '@temporalio/client';
import { Runtime, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { z } from 'zod';

/** How a starting worker treats the deployment's current version. */
export const PROMOTE_MODES = ['when-unset', 'always', 'never'] as const;

/** The variables that put a worker under versioning; without ARBITER_BUILD_ID it runs unversioned. */
export const DeploymentEnvSchema = z.object({
  /** This worker's build: a new one for every change to workflow code. */
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

/** gRPC status codes the deployment calls answer with. */
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
/** Not yet: the version is unknown until it polls, a queue has no poller yet, or the state changed meanwhile. */
const NOT_YET = [NOT_FOUND, FAILED_PRECONDITION, ABORTED];

/** The deployment's current build id and the token that guards a change to it. */
async function currentVersion(connection: NativeConnection, namespace: string, name: string) {
  try {
    const res = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName: name });
    const routing = res.workerDeploymentInfo?.routingConfig;
    return { buildId: routing?.currentDeploymentVersion?.buildId || undefined, conflictToken: res.conflictToken };
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === NOT_FOUND) return { buildId: undefined };
    throw err;
  }
}

/**
 * Makes this build the current version once it polls, as `deployment.promote` says: never, only
 * when there is none, or always. Retries while the server does not know the version yet; the
 * conflict token keeps two workers promoting at once from undoing each other unseen.
 */
export async function promoteOnStart(
  connection: NativeConnection,
  namespace: string,
  deployment: DeploymentConfig,
  signal: AbortSignal,
): Promise<void> {
  const logger = Runtime.instance().logger;
  const { name, buildId, promote } = deployment;
  for (let attempt = 1; promote !== 'never' && !signal.aborted; attempt++) {
    const current = await currentVersion(connection, namespace, name);
    if (current.buildId === buildId || (promote === 'when-unset' && current.buildId)) {
      logger.info('worker deployment version', { deployment: name, buildId, current: current.buildId });
      return;
    }
    try {
      await connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: name,
        buildId,
        conflictToken: current.conflictToken,
        identity: `arbiter-worker/${buildId}`,
      });
      logger.info('made this build the current worker deployment version', { deployment: name, buildId });
      return;
    } catch (err) {
      const retry = isGrpcServiceError(err) && NOT_YET.includes(err.code);
      if (!retry || attempt >= 60) throw err;
      await sleep(1000, undefined, { signal }).catch(() => undefined);
    }
  }
}
