/**
 * One worker of the load benchmark, in its own process so that its resident memory is its own:
 * `arbiter` builds Arbiter's worker from the environment as `arbiter worker` does (workers/config.ts,
 * so ARBITER_MAX_CACHED_WORKFLOWS and the rest apply), `floor` the bare floor workflow's worker with
 * the same workflow cache size and heap limit. It says `ready` over IPC once polling can start,
 * then sends its main thread's memory figures every second (what RSS alone does not say: how
 * much is the main thread's heap), and stops on SIGTERM (the SDK's runtime drains the workers on it).
 *
 *   node lib/bench/load-worker.js arbiter|floor   (started by bench/worker-process.ts)
 *
 * Besides the worker variables it reads BENCH_DB_POOL (the PostgreSQL pool size) and
 * BENCH_LOG_FILE (where the worker's log goes).
 */
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { openDatabase } from '../db/client';
import { connectionOptions } from '../temporal-config/connection';
import { loadWorkerConfig, type WorkerConfig } from '../workers/config';
import { SILENT_LOGGER } from '../workers/logger';
import { installWorkerRuntime } from '../workers/telemetry';
import { createArbiterWorker, workerOptionsFrom } from '../workers/worker';
import { limitWorkflowThreadHeap } from '../workers/workflow-heap';

/** Which worker this process runs. */
export type BenchWorkerRole = 'arbiter' | 'floor';

/** Tells the benchmark that polling starts, then reports `process.memoryUsage()` every second. */
function sayReady(): void {
  process.send?.('ready');
  setInterval(() => process.send?.(process.memoryUsage()), 1000).unref();
}

/** Arbiter's worker, on its own pool of BENCH_DB_POOL connections. */
async function runArbiter(config: WorkerConfig, connection: NativeConnection): Promise<void> {
  const database = openDatabase(config.databaseUrl as string, { max: Number(process.env.BENCH_DB_POOL ?? 10) });
  try {
    const worker = await createArbiterWorker({ connection, database, ...workerOptionsFrom(config) });
    sayReady();
    await worker.run();
  } finally {
    await database.close();
  }
}

/** The floor's worker: no-op activities, the floor workflow, Arbiter's workflow cache size and heap limit. */
async function runFloor(config: WorkerConfig, connection: NativeConnection): Promise<void> {
  limitWorkflowThreadHeap(config.workflowHeapMb);
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.taskQueue,
    maxCachedWorkflows: config.maxCachedWorkflows,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('./floor-workflow'),
      logger: SILENT_LOGGER,
    }),
    activities: { noop: async () => undefined },
  });
  sayReady();
  await worker.run();
}

async function main(role: string): Promise<void> {
  if (role !== 'arbiter' && role !== 'floor') throw new Error(`usage: load-worker arbiter|floor (got ${role})`);
  const config = loadWorkerConfig();
  installWorkerRuntime({ level: 'warn', file: process.env.BENCH_LOG_FILE, console: false });
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  try {
    await (role === 'arbiter' ? runArbiter : runFloor)(config, connection);
  } finally {
    await connection.close();
  }
}

main(process.argv[2]).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
