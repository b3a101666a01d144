/**
 * Builds an Arbiter worker: migrations applied, activities wired to their dependencies, the
 * workflow bundle loaded. Used by `arbiter worker`, `arbiter start` and the tests alike.
 */
import { NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { MissingSearchAttributesError, missingSearchAttributes } from '../temporal-config/ensure-search-attributes';
import { createActivities } from '../activities';
import type { Database } from '../db/client';
import { migrateDatabase } from '../db/migrate';

/** What a worker needs from its process. */
export interface ArbiterWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  database: Database;
  home: string;
  /** A pre-built bundle (tests share one); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkflowBundle;
  identity?: string;
  shutdownGraceTime?: string;
}

const log = { warn: (message: string, meta: Record<string, unknown>) => Runtime.instance().logger.warn(message, meta) };

/** Path of the compiled workflows module the bundler starts from. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/**
 * Fails fast, naming them, when Arbiter's search attributes are missing (every task would
 * otherwise fail on its first upsert). A server that refuses to list them is not blocked.
 */
async function checkSearchAttributes(options: ArbiterWorkerOptions): Promise<void> {
  const missing = await missingSearchAttributes(options.connection.operatorService, options.namespace).catch((err: Error) => {
    log.warn('could not list search attributes; not checking them', { error: err.message });
    return [];
  });
  if (missing.length) throw new MissingSearchAttributesError(missing, options.namespace);
}

/** Applies migrations and checks the namespace, then creates (but does not run) the worker. */
export async function createArbiterWorker(options: ArbiterWorkerOptions): Promise<Worker> {
  await checkSearchAttributes(options);
  await migrateDatabase(options.database.pool);
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    activities: createActivities({ db: options.database.db, home: options.home }),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: workflowsPath() }),
    ...(options.identity ? { identity: options.identity } : {}),
    shutdownGraceTime: options.shutdownGraceTime ?? '10s',
  });
}
