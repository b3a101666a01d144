/**
 * A starting build making itself the deployment's current version (ARBITER_PROMOTE_ON_START).
 * The newest build wins: an old build restarting (a crash, a host reboot) never rolls a fleet
 * back. An operator's hand wins over both: once someone other than an Arbiter worker set the
 * current version, or while a version is ramping, no worker changes it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError } from '@temporalio/client';
import { Runtime, type NativeConnection } from '@temporalio/worker';
import type { DeploymentConfig } from './deployment';

/** gRPC status codes the deployment calls answer with. */
const NOT_FOUND = 5;
/** Not yet: the version is unknown until it polls, a queue has no poller yet, the deployment changed meanwhile (the conflict token), or the server is briefly away. */
const TRY_AGAIN = [
  NOT_FOUND,
  9 /* FAILED_PRECONDITION */,
  10 /* ABORTED */,
  14 /* UNAVAILABLE */,
  4 /* DEADLINE_EXCEEDED */,
];
/** The identity a worker's own promotion carries: any other last modifier is an operator. */
const IDENTITY_PREFIX = 'arbiter-worker/';

/** Nanoseconds of a protobuf timestamp (fields may be Longs, which `Number` alone makes NaN); 0 when absent. */
function nanosOf(t: { seconds?: unknown; nanos?: unknown } | null | undefined): number {
  return (Number(String(t?.seconds ?? 0)) || 0) * 1e9 + (Number(t?.nanos ?? 0) || 0);
}

/** What promotion needs to know of the deployment. */
interface DeploymentState {
  current?: string;
  conflictToken?: Uint8Array | null;
  /** This build has polled and is known to the deployment. */
  registered: boolean;
  /** The current build registered after this one. */
  currentIsNewer: boolean;
  /** Someone other than an Arbiter worker made the last change, or a version is ramping. */
  operatorInCharge: boolean;
}

async function deploymentState(
  connection: NativeConnection,
  namespace: string,
  name: string,
  buildId: string,
): Promise<DeploymentState> {
  try {
    const res = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName: name });
    const info = res.workerDeploymentInfo;
    const summary = (b?: string) => info?.versionSummaries?.find((v) => v.deploymentVersion?.buildId === b);
    const routing = info?.routingConfig;
    const current = routing?.currentDeploymentVersion?.buildId || undefined;
    const modifier = info?.lastModifierIdentity ?? '';
    return {
      current,
      conflictToken: res.conflictToken,
      registered: !!summary(buildId),
      currentIsNewer: !!current && nanosOf(summary(current)?.createTime) > nanosOf(summary(buildId)?.createTime),
      operatorInCharge:
        !!routing?.rampingDeploymentVersion?.buildId || (!!modifier && !modifier.startsWith(IDENTITY_PREFIX)),
    };
  } catch (err) {
    if (isGrpcServiceError(err) && err.code === NOT_FOUND)
      return { registered: false, currentIsNewer: false, operatorInCharge: false };
    throw err;
  }
}

/**
 * Why this build leaves the current version alone; `wait` while it is not registered yet (a
 * build registers at its first poll, and only then is it known which build is newer).
 */
function reasonToStay(promote: DeploymentConfig['promote'], buildId: string, state: DeploymentState) {
  if (state.current === buildId) return 'this build is current';
  if (promote === 'when-unset' && state.current) return 'another build is current';
  if (state.current && state.operatorInCharge) return 'an operator set the routing; promote with the temporal CLI';
  if (!state.registered) return 'wait';
  if (state.currentIsNewer) return 'a newer build is current';
  return undefined;
}

/** One look at the deployment and, when this build should be current, the change: true when done. */
async function promoteOnce(connection: NativeConnection, namespace: string, deployment: DeploymentConfig) {
  const { name, buildId, promote } = deployment;
  const state = await deploymentState(connection, namespace, name, buildId);
  const stay = reasonToStay(promote, buildId, state);
  if (stay === 'wait') return false;
  const logger = Runtime.instance().logger;
  if (stay) {
    logger.info('worker deployment version', { deployment: name, buildId, current: state.current, reason: stay });
    return true;
  }
  await connection.workflowService.setWorkerDeploymentCurrentVersion({
    namespace,
    deploymentName: name,
    buildId,
    conflictToken: state.conflictToken,
    identity: `${IDENTITY_PREFIX}${buildId}`,
  });
  logger.info('made this build the current worker deployment version', { deployment: name, buildId });
  return true;
}

/**
 * Makes this build current as `deployment.promote` says, once it polls; retries until it is
 * done or the worker stops (a first deploy with no current version runs no task until then).
 */
export async function promoteOnStart(
  connection: NativeConnection,
  namespace: string,
  deployment: DeploymentConfig,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; deployment.promote !== 'never' && !signal.aborted; attempt++) {
    try {
      if (await promoteOnce(connection, namespace, deployment)) return;
    } catch (err) {
      if (!isGrpcServiceError(err) || !TRY_AGAIN.includes(err.code)) throw err;
    }
    if (attempt === 60)
      Runtime.instance().logger.warn('this build is not current yet; still trying', { buildId: deployment.buildId });
    await sleep(Math.min(attempt, 10) * 1000, undefined, { signal }).catch(() => undefined);
  }
}

/** Makes the build current as configured; a failure is logged, not fatal: the operator can still promote it. */
export async function promoteBuild(
  connection: NativeConnection,
  namespace: string,
  deployment: DeploymentConfig,
  signal: AbortSignal,
): Promise<void> {
  await promoteOnStart(connection, namespace, deployment, signal).catch((err: Error) =>
    Runtime.instance().logger.error('could not make this build the current deployment version', {
      deployment: deployment.name,
      buildId: deployment.buildId,
      error: err.message,
    }),
  );
}
