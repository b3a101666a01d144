/**
 * The local Temporal dev server (`temporal server start-dev`): SQLite file under the project's
 * state folder, Web UI, and Arbiter's search attributes registered at start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { Connection } from '@temporalio/client';
import { devServerSearchAttributeArgs, SERVER_RUN_LIMITS } from '../temporal-config';

/**
 * SQLite settings for the dev server's file: a write-ahead log, synced at checkpoints rather
 * than on every commit. Survives a crash of the server process; the last commits may be lost
 * only if the machine itself loses power, which a development stack accepts for the speed.
 */
export const DEV_SERVER_SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'];

/**
 * Dynamic config for the dev server. The CLI makes every search-attribute lookup reread the
 * cluster metadata from SQLite, so attributes created at run time are usable at once; the server
 * registers Arbiter's attributes when it creates its database, and those rereads were a third of the
 * server's storage reads per task (a production server caches them). And Arbiter's per-run limits
 * ({@link SERVER_RUN_LIMITS}).
 */
export const DEV_SERVER_DYNAMIC_CONFIG = [
  'system.forceSearchAttributesCacheRefreshOnRead=false',
  ...Object.entries(SERVER_RUN_LIMITS).map(([key, value]) => `${key}=${value}`),
];

/** A running dev server. */
export interface DevServer {
  pid: number;
  address: string;
  /** The Web UI, when it serves one. */
  uiUrl?: string;
  /** Its Prometheus endpoint, when it serves one. */
  metrics?: string;
  stop(): Promise<void>;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/**
 * `count` distinct free ports on loopback. Every probe stays open until all are chosen: probes
 * closed one by one may be given the same port again, and a stack on one port twice cannot start.
 * A port an open connection uses as its own end cannot be bound either, and no check sees that:
 * hence ports outside the range the kernel picks connections' ends from.
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) probes.push(await listeningProbe());
    return probes.map((probe) => (probe.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(probes.map((probe) => new Promise((resolve) => probe.close(resolve))));
  }
}

/** A listening socket on a random free port below the ephemeral range; without the range (not Linux), any. */
async function listeningProbe(): Promise<net.Server> {
  const [low, high] = CHOSEN_PORTS;
  for (let i = 0; high > low && i < 100; i++) {
    const port = low + Math.floor(Math.random() * (high - low));
    const server = await listenOn(port).catch(() => undefined);
    if (server) return server;
  }
  return listenOn(0);
}

const CHOSEN_PORTS = portsBelowEphemeral();

function portsBelowEphemeral(): [number, number] {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 20_000 ? [10_000, low] : [0, 0];
  } catch {
    return [0, 0];
  }
}

function listenOn(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * The server picks its HTTP, metrics and membership ports itself (free when it looked, possibly
 * taken when it binds), and another process may take one of ours after the check above: a start
 * that fails only on a bind is tried again, up to {@link BIND_ATTEMPTS} times.
 */
async function spawnServing(bin: string, args: string[], address: string, logFile: string): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt++) {
    const logStart = existsSync(logFile) ? statSync(logFile).size : 0;
    const log = openSync(logFile, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    try {
      await waitUntilAnswering(address, child, 60_000);
      return child;
    } catch (err) {
      await stopChild(child);
      const said = logSince(logFile, logStart);
      if (attempt < BIND_ATTEMPTS && /address already in use/.test(said)) continue;
      const tail = said.split('\n').slice(-10).join('\n');
      throw new Error(`${(err as Error).message} (log: ${logFile})${tail ? `:\n${tail}` : ''}`);
    }
  }
}

const BIND_ATTEMPTS = 3;

/** What the server wrote since `offset`, so a failed start says why. */
function logSince(logFile: string, offset: number): string {
  return readFileSync(logFile).subarray(offset).toString('utf8').trim();
}

async function answers(address: string): Promise<true> {
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

/**
 * Waits until the server `child` answers a workflow-service call on `address` (the dev server and
 * the time-skipping test server both do; the latter has no health service).
 */
export async function waitUntilAnswering(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `temporal server ${child.signalCode ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`}`,
      );
    if (await answers(address).catch((err: unknown) => void (lastError = err))) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`temporal server did not answer on ${address} within ${timeoutMs / 1000}s: ${String(lastError)}`);
}

/** Ends a server process: SIGTERM, then SIGKILL if it has not exited within ten seconds. */
export function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts the dev server; refuses when the ports are already taken (another stack is running).
 * Without a `uiPort` it serves no Web UI (`--headless`): a benchmark or a test has no use for one,
 * and every port it asks for is one more that another process may take meanwhile.
 */
export async function startDevServer(options: {
  bin: string;
  port: number;
  uiPort?: number;
  metricsPort?: number;
  dbFile: string;
  logFile: string;
}): Promise<DevServer> {
  const ports = [options.port, options.uiPort, options.metricsPort].filter((p) => p !== undefined);
  for (const port of ports) {
    if (await portInUse(port)) {
      throw new Error(
        `port ${port} is already in use (another \`arbiter start\`?); stop it, or set TEMPORAL_ADDRESS to use a running server`,
      );
    }
  }
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.metricsPort === undefined ? [] : ['--metrics-port', String(options.metricsPort)]),
    '--db-filename',
    options.dbFile,
    '--namespace',
    'default',
    '--log-level',
    'warn',
    ...DEV_SERVER_SQLITE_PRAGMAS.flatMap((p) => ['--sqlite-pragma', p]),
    ...DEV_SERVER_DYNAMIC_CONFIG.flatMap((v) => ['--dynamic-config-value', v]),
    ...devServerSearchAttributeArgs(),
  ];
  const address = `127.0.0.1:${options.port}`;
  const child = await spawnServing(options.bin, args, address, options.logFile);
  const uiUrl = options.uiPort === undefined ? undefined : `http://localhost:${options.uiPort}`;
  const metrics = options.metricsPort === undefined ? undefined : `http://127.0.0.1:${options.metricsPort}/metrics`;
  return { pid: child.pid ?? 0, address, uiUrl, metrics, stop: () => stopChild(child) };
}
