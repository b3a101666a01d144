/**
 * Builds an Arbiter worker: migrations applied, activities wired to their dependencies, the
 * workflow bundle loaded. Used by `arbiter worker`, `arbiter start` and the tests alike.
 */
import { NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
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

/** Path of the compiled workflows module the bundler starts from. */
export function workflowsPath(): string {
  return require.resolve('../workflows');
}

/** Applies migrations, then creates (but does not run) the worker. */
export async function createArbiterWorker(options: ArbiterWorkerOptions): Promise<Worker> {
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
