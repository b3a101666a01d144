/**
 * Builds an Arbiter worker: migrations applied, search attributes checked, periodic work scheduled
 * (workers/schedules.ts), activities wired to their dependencies. Each worker polls two queues: the shared task queue (workflows and steps
 * any host can run) and its own host queue (steps that touch workspaces it holds). The host
 * identity is kept in ARBITER_HOME, so a restarted worker on the same volume resumes its queue.
 * Used by `arbiter worker`, `arbiter start` and the tests alike.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { ensureArbiterSchedules } from './schedules';
import { createActivities, type ActivityDeps } from '../activities';
import { runStatusProbe } from './run-status';
import { startModelGateway } from '../host/gateway/server';
import { DEFAULT_SANDBOX_CONFIG, type SandboxConfig } from '../host/sandbox/config';
import { createVerdictSigner, loadOrCreateSigningKey } from '../host/signing';
import { arbiterHomeOf, refuseCarriedHome, refuseCarriedSigningKey } from '../host/checkout-carried';
import type { Database } from '../db/client';
import { DEFAULT_MAX_CACHED_WORKFLOWS, DEFAULT_WORKFLOW_HEAP_MB, type WorkerConfig } from './config';
import { limitWorkflowThreadHeap } from './workflow-heap';
import { reportSandboxAtStart, tracingWorkerOptions } from './telemetry';
import { codeAndBuild, versionedWorkerOptions, type DeploymentConfig } from './deployment';
import { promoteBuild } from './promotion';
import type { Tracing } from '../host/tracing';
import { workflowBundleOptions } from './workflow-bundle';
import { migrateDatabase } from '../db/migrate';
import { hostTaskQueue } from '../temporal-config';
import { MissingSearchAttributesError, missingSearchAttributes } from '../temporal-config/ensure-search-attributes';
import type { ModelKeyRule } from '../domain/model-keys';

/** What a worker needs from its process. */
export interface ArbiterWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  database: Database;
  /** The owner's connection, for migrations; `database` when absent (a single-role setup). */
  adminDatabase?: Database;
  home: string;
  /** Whether the operator named the home (ARBITER_HOME), rather than `./.arbiter` of where it runs: theirs, links and all. */
  homeNamed?: boolean;
  /** A pre-built bundle (tests share one); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkflowBundle;
  shutdownGraceTime?: string;
  /** Command confinement; bwrap with default limits when absent. */
  sandbox?: SandboxConfig;
  /** Hours to keep workspaces of tasks that did not complete, and completed ones' emptied roots (default 24). */
  retentionHours?: number;
  /** Secret lookup for agents' API keys (by env var name); none when absent. */
  secretEnv?: (name: string) => string | undefined;
  /** The keys the gateway may send, each to its hosts (ARBITER_MODEL_KEYS); absent, each preset's key to its vendor only. */
  modelKeys?: readonly ModelKeyRule[];
  /** ed25519 key that signs verdicts; created at `<home>/keys/verdict-signing.pem` when absent. */
  signingKeyFile?: string;
  /** This worker's namespace and the tenants' (ARBITER_TENANT_NAMESPACES): a task in the wrong one is refused. */
  temporal?: ActivityDeps['temporal'];
  /** Registries on the worker's own network a policy's setup may reach (ARBITER_PRIVATE_REGISTRIES); none when absent. */
  privateRegistries?: string[];
  /** Key-less model upstreams on the worker's own network an agent may reach (ARBITER_PRIVATE_UPSTREAMS); none when absent. */
  privateUpstreams?: string[];
  /** Folders an agent's `toolDirs` may lie under (ARBITER_TOOL_DIRS); absent, Arbiter's node_modules. */
  toolDirRoots?: readonly string[];
  /** Workflows kept in memory between their tasks (ARBITER_MAX_CACHED_WORKFLOWS); {@link DEFAULT_MAX_CACHED_WORKFLOWS} when absent. */
  maxCachedWorkflows?: number;
  /** The workflow thread's V8 heap limit in MiB (ARBITER_WORKFLOW_HEAP_MB); {@link DEFAULT_WORKFLOW_HEAP_MB} when absent. */
  workflowHeapMb?: number;
  /** Workspace steps the host worker runs at once (ARBITER_HOST_CONCURRENCY); the SDK's default when absent. */
  hostConcurrency?: number;
  /** Where this worker's workflow spans go; dropped when absent (activity spans follow the global tracer). */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>;
  /** The deployment version the workflow worker serves (ARBITER_BUILD_ID); unversioned when absent. */
  deployment?: DeploymentConfig;
  /** False on a server without Schedules (Temporal's time-skipping test server): no periodic work is scheduled. */
  schedules?: boolean;
}

/** The pair of Temporal workers one Arbiter worker process runs. */
export interface ArbiterWorker {
  hostQueue: string;
  /** Resolves when both have stopped; if one fails, the other is shut down too. */
  run(): Promise<void>;
  shutdown(): void;
}

/** Where the verdict signing key lives unless the operator names one. */
export function defaultSigningKeyFile(home: string): string {
  return path.join(home, 'keys', 'verdict-signing.pem');
}

/** The verdict signing key a configuration names: the operator's, else the default under its home. */
export function signingKeyFileOf(config: { signingKeyFile?: string; home: string }): string {
  return config.signingKeyFile ?? defaultSigningKeyFile(config.home);
}

/** This host's id, created once per ARBITER_HOME. */
function workerHostId(home: string): string {
  const file = path.join(home, 'worker-id');
  if (!existsSync(file)) {
    mkdirSync(home, { recursive: true });
    writeFileSync(file, `${randomBytes(6).toString('hex')}\n`, { flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Fails fast, naming them, when Arbiter's search attributes are missing (every task would
 * otherwise fail on its first upsert). A server that refuses to list them is not blocked.
 */
async function checkSearchAttributes(options: ArbiterWorkerOptions): Promise<void> {
  const missing = await missingSearchAttributes(options.connection.operatorService, options.namespace).catch(
    (err: Error) => {
      Runtime.instance().logger.warn('could not list search attributes; not checking them', { error: err.message });
      return [];
    },
  );
  if (missing.length) throw new MissingSearchAttributesError(missing, options.namespace);
}

/** What a worker takes from its process's configuration: the same for `arbiter worker` and `arbiter start`. */
export function workerOptionsFrom(
  config: WorkerConfig,
): Pick<
  ArbiterWorkerOptions,
  | 'namespace'
  | 'taskQueue'
  | 'home'
  | 'homeNamed'
  | 'sandbox'
  | 'retentionHours'
  | 'secretEnv'
  | 'modelKeys'
  | 'signingKeyFile'
  | 'temporal'
  | 'privateRegistries'
  | 'privateUpstreams'
  | 'toolDirRoots'
  | 'maxCachedWorkflows'
  | 'workflowHeapMb'
  | 'hostConcurrency'
  | 'shutdownGraceTime'
  | 'deployment'
> {
  return {
    namespace: config.temporal.namespace,
    temporal: { namespace: config.temporal.namespace, tenantNamespaces: config.temporal.tenantNamespaces },
    taskQueue: config.taskQueue,
    home: config.home,
    homeNamed: config.homeNamed,
    sandbox: config.sandbox,
    retentionHours: config.retentionHours,
    secretEnv: config.secretEnv,
    modelKeys: config.modelKeys,
    signingKeyFile: config.signingKeyFile,
    privateRegistries: config.privateRegistries,
    privateUpstreams: config.privateUpstreams,
    toolDirRoots: config.toolDirRoots,
    maxCachedWorkflows: config.maxCachedWorkflows,
    workflowHeapMb: config.workflowHeapMb,
    hostConcurrency: config.hostConcurrency,
    shutdownGraceTime: `${config.shutdownGraceSeconds}s`,
    deployment: config.deployment,
  };
}

/** Where the SDK bundles the workflows from at start, with the modules every workflow shares. */
function workflowSource(traced: boolean) {
  const { workflowsPath, preloadModules, workflowInterceptorModules, webpackConfigHook } =
    workflowBundleOptions(traced);
  return {
    workflowsPath,
    bundlerOptions: { preloadModules, webpackConfigHook },
    workflowModules: workflowInterceptorModules,
  };
}

/** Applies migrations and checks the namespace, then creates (but does not run) the workers. */
export async function createArbiterWorker(options: ArbiterWorkerOptions): Promise<ArbiterWorker> {
  refuseCarriedHome(arbiterHomeOf(options));
  if (!options.signingKeyFile) refuseCarriedSigningKey(signingKeyFileOf(options), arbiterHomeOf(options));
  await checkSearchAttributes(options);
  await migrateDatabase((options.adminDatabase ?? options.database).pool);
  const hostId = workerHostId(options.home);
  const hostQueue = hostTaskQueue(options.taskQueue, hostId);
  // Before anything that would need closing: a namespace that refuses schedules stops the start.
  if (options.schedules !== false)
    await ensureArbiterSchedules({
      client: new Client({ connection: options.connection, namespace: options.namespace }),
      taskQueue: options.taskQueue,
      hostQueue,
      hostId,
    });
  const sandbox = options.sandbox ?? DEFAULT_SANDBOX_CONFIG;
  await reportSandboxAtStart(options.home, sandbox);
  const retentionHours = options.retentionHours ?? 24;
  const secretEnv = options.secretEnv ?? (() => undefined);
  const signingKeyFile = signingKeyFileOf(options);
  const signer = createVerdictSigner(loadOrCreateSigningKey(signingKeyFile));
  const gateway = await startModelGateway({
    db: options.database.db,
    secretEnv,
    modelKeys: options.modelKeys,
    privateRegistries: options.privateRegistries,
    privateUpstreams: options.privateUpstreams,
  });
  const activities = createActivities({
    db: options.database.db,
    home: options.home,
    hostQueue,
    sandbox,
    retentionHours,
    secretEnv,
    modelKeys: options.modelKeys,
    toolDirRoots: options.toolDirRoots,
    signingKeyFile,
    signer,
    temporal: options.temporal,
    gateway,
    runIsOpen: runStatusProbe(options.connection, options.temporal ?? { namespace: options.namespace }),
  });
  const telemetry = tracingWorkerOptions(options.tracing);
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    activities,
    sinks: telemetry.sinks,
    shutdownGraceTime: options.shutdownGraceTime ?? '10s',
    // Beats reach the server every 3 s at most (by default 80% of the 10 s heartbeat timeout), so
    // a busy host's late beat is not mistaken for a dead worker.
    maxHeartbeatThrottleInterval: '3s',
  };
  limitWorkflowThreadHeap(options.workflowHeapMb ?? DEFAULT_WORKFLOW_HEAP_MB);
  const traced = !!options.tracing;
  const { bundle, deployment } = await codeAndBuild(options.deployment, options.workflowBundle, traced);
  if (deployment) Runtime.instance().logger.info('worker deployment version', { ...deployment });
  const { workflowModules, ...source } = bundle
    ? { workflowBundle: bundle, workflowModules: undefined }
    : workflowSource(traced);
  const [shared, host] = await Promise.all([
    Worker.create({
      ...common,
      ...source,
      taskQueue: options.taskQueue,
      maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
      interceptors: { ...telemetry.interceptors, workflowModules },
      ...(deployment ? versionedWorkerOptions(deployment) : {}),
    }),
    Worker.create({
      ...common,
      taskQueue: hostQueue,
      interceptors: telemetry.interceptors,
      ...(options.hostConcurrency ? { maxConcurrentActivityTaskExecutions: options.hostConcurrency } : {}),
    }),
  ]).catch(async (err: unknown) => {
    await gateway.close();
    throw err;
  });
  const stopping = new AbortController();
  const shutdown = () => {
    stopping.abort();
    for (const w of [shared, host]) if (w.getState() === 'RUNNING') w.shutdown();
  };
  const run = async () => {
    const runs = [shared.run(), host.run()].map((p) => p.catch((err: unknown) => (shutdown(), Promise.reject(err))));
    if (deployment) void promoteBuild(options.connection, options.namespace, deployment, stopping.signal);
    await Promise.all(runs).finally(() => gateway.close());
  };
  return { hostQueue, run, shutdown };
}
