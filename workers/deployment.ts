/**
 * Worker Deployment Versioning: a worker started with a build id serves its deployment's
 * version, and every task's workflow is pinned to the version it started on. A new build never
 * replays a history an older build wrote: the old version's workers finish their runs while
 * new tasks go to the current version. Rolling out is choosing the current version
 * (`temporal worker deployment set-current-version`, README *Operating Arbiter*); a worker can
 * make itself current at start when nothing is (the first deploy), or always, when asked.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError } from '@temporalio/client';
import { Runtime, type NativeConnection, type WorkerOptions, type WorkflowBundle } from '@temporalio/worker';
import { bundleArbiterWorkflows } from './workflow-bundle';
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

/** gRPC status codes the deployment calls answer with. */
const NOT_FOUND = 5;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
/** Not yet: the version is unknown until it polls, a queue has no poller yet, or the state changed meanwhile. */
const NOT_YET = [NOT_FOUND, FAILED_PRECONDITION, ABORTED];

/** Seconds of a protobuf timestamp (a number or a Long, which `Number` alone makes NaN), 0 when absent. */
const seconds = (t: { seconds?: unknown } | null | undefined) => Number(String(t?.seconds ?? 0)) || 0;

/**
 * The deployment as promotion needs it: the current build, the token that guards a change to
 * it, and whether a version newer than `buildId` exists (a build registers at its first poll).
 */
async function deploymentState(connection: NativeConnection, namespace: string, name: string, buildId: string) {
  try {
    const res = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName: name });
    const info = res.workerDeploymentInfo;
    const created = (b: string | undefined) =>
      seconds(info?.versionSummaries?.find((v) => v.deploymentVersion?.buildId === b)?.createTime);
    const current = info?.routingConfig?.currentDeploymentVersion?.buildId || undefined;
    return {
      current,
      conflictToken: res.conflictToken,
      registered: created(buildId) > 0,
      currentIsNewer: !!current && created(current) > created(buildId),
    };
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === NOT_FOUND)
      return { current: undefined, registered: false, currentIsNewer: false };
    throw err;
  }
}

/**
 * Why this build leaves the current version alone; `wait` while it is not registered yet (a
 * build registers at its first poll, and only then is it known which build is newer).
 */
function reasonToStay(
  promote: DeploymentConfig['promote'],
  buildId: string,
  state: { current?: string; registered: boolean; currentIsNewer: boolean },
): string | undefined {
  if (state.current === buildId) return 'this build is current';
  if (promote === 'when-unset' && state.current) return 'another build is current';
  if (!state.registered) return 'wait';
  if (state.currentIsNewer) return 'a newer build is current';
  return undefined;
}

/**
 * Makes this build the current version once it polls, as `deployment.promote` says: never, only
 * when there is none, or always, unless the current build registered after this one. The newest
 * build wins, so an old build's restart (a crash, a host reboot) never rolls a fleet back; to
 * roll back on purpose, stop the newer build first. Retries while the server does not know this
 * version yet or the deployment changed meanwhile (the conflict token).
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
    const state = await deploymentState(connection, namespace, name, buildId);
    const stay = reasonToStay(promote, buildId, state);
    if (stay === 'wait') {
      if (attempt >= 60) throw new Error(`build ${buildId} did not register in deployment ${name}`);
      await sleep(1000, undefined, { signal }).catch(() => undefined);
      continue;
    }
    if (stay) {
      logger.info('worker deployment version', { deployment: name, buildId, current: state.current, reason: stay });
      return;
    }
    try {
      await connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: name,
        buildId,
        conflictToken: state.conflictToken,
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

/** The ARBITER_BUILD_ID that names the build after its workflow code. */
export const AUTO_BUILD_ID = 'auto';

/** The build id `auto` stands for: a digest of the bundled workflow code, so changed code is a new build. */
export function buildIdOfWorkflowCode(code: string): string {
  return `wf-${createHash('sha256').update(code).digest('hex').slice(0, 16)}`;
}

/**
 * The workflow bundle, when there is one before the worker starts, and the deployment with its
 * build id: `auto` is the digest of the bundled code, so the bundle is made here to name it.
 */
export async function codeAndBuild(deployment: DeploymentConfig | undefined, workflowBundle?: WorkflowBundle) {
  if (deployment?.buildId !== AUTO_BUILD_ID) return { bundle: workflowBundle, deployment };
  const bundle = workflowBundle ?? (await bundleArbiterWorkflows(Runtime.instance().logger));
  return { bundle, deployment: { ...deployment, buildId: buildIdOfWorkflowCode(bundle.code) } };
}

/** Makes the build current as configured; a failure is logged, not fatal: the operator can still promote it. */
export async function promoteBuild(
  connection: NativeConnection,
  namespace: string,
  deployment: DeploymentConfig,
  signal: AbortSignal,
) {
  await promoteOnStart(connection, namespace, deployment, signal).catch((err: Error) =>
    Runtime.instance().logger.error('could not make this build the current deployment version', {
      deployment: deployment.name,
      buildId: deployment.buildId,
      error: err.message,
    }),
  );
}
