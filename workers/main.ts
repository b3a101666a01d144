/**
 * `arbiter worker`: a production worker for TEMPORAL_ADDRESS / DATABASE_URL. Logs are JSON on
 * stdout; SIGINT/SIGTERM drain in-flight work and exit.
 */
import { NativeConnection } from '@temporalio/worker';
import { openDatabase } from '../db/client';
import { connectionOptions } from '../temporal-config/connection';
import { ConfigError, describeWorkerConfig, loadWorkerConfig } from './config';
import { installWorkerRuntime } from './telemetry';
import { startTracing } from '../host/tracing';
import { createArbiterWorker, workerOptionsFrom } from './worker';

/** Runs until a shutdown signal; resolves when the worker has stopped. */
export async function runWorkerProcess(): Promise<void> {
  const config = loadWorkerConfig();
  if (!config.databaseUrl)
    throw new ConfigError('DATABASE_URL is required for `arbiter worker` (use `arbiter start` for a local stack)');
  const logger = installWorkerRuntime({ level: config.logLevel, metricsAddress: config.metricsAddress });
  logger.info('arbiter worker starting', describeWorkerConfig(config));
  const tracing = startTracing(config.tracing);
  const database = openDatabase(config.databaseUrl);
  // Migrations run as the owner; the worker itself runs as DATABASE_URL's role (arbiter_worker when so set up).
  const separateAdmin = config.adminDatabaseUrl && config.adminDatabaseUrl !== config.databaseUrl;
  const adminDatabase = separateAdmin ? openDatabase(config.adminDatabaseUrl as string, { max: 1 }) : undefined;
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  try {
    const worker = await createArbiterWorker({
      connection,
      database,
      adminDatabase,
      tracing,
      ...workerOptionsFrom(config),
    });
    await adminDatabase?.close();
    logger.info('arbiter worker polling', { taskQueue: config.taskQueue });
    await worker.run();
  } finally {
    await connection.close();
    await database.close();
    await adminDatabase?.close().catch(() => undefined);
    await tracing?.shutdown();
  }
}
