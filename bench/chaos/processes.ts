/**
 * The chaos run's processes: Arbiter workers as separate `arbiter worker` processes (restarted
 * when they exit, as a supervisor would), Arbiter's own PostgreSQL, and the Temporal target —
 * the dev server on its SQLite file, or the real cluster with its services as processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import * as path from 'node:path';
import { startCluster, type Cluster } from '../../client/cluster/cluster';
import type { ClusterService } from '../../client/cluster/config';
import { portInUse, startDevServer, type DevServer } from '../../client/dev-server';
import { projectRoot, temporalCliPath } from '../../client/paths';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `n` worker processes on one task queue, each its own host (own ARBITER_HOME). */
export class WorkerProcesses {
  private readonly children: Array<ChildProcess | undefined> = [];
  private stopping = false;

  constructor(
    private readonly env: Record<string, string>,
    private readonly dir: string,
    readonly count: number,
  ) {}

  startAll(): void {
    for (let i = 0; i < this.count; i++) this.start(i);
  }

  private start(i: number): void {
    const log = openSync(path.join(this.dir, `worker-${i}.log`), 'a');
    const env = { ...process.env, ...this.env, ARBITER_HOME: path.join(this.dir, `worker-${i}`) };
    const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'arbiter.js'), 'worker'], {
      env,
      stdio: ['ignore', log, log],
    });
    this.children[i] = child;
    // A worker that exits on its own (its database was down at start) comes back, as under a supervisor.
    child.once('exit', () => {
      if (this.children[i] === child && !this.stopping)
        setTimeout(() => this.children[i] === child && this.start(i), 2000);
    });
  }

  /** SIGKILLs worker `i` and starts a new one after `downMs`; resolves once it is spawned. */
  async killAndRestart(i: number, downMs: number): Promise<void> {
    const child = this.children[i];
    this.children[i] = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await pause(downMs);
    this.start(i);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      this.children.map(async (child) => {
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(force);
      }),
    );
  }
}

/** Arbiter's PostgreSQL, which can be taken down and brought back on the same data. */
export class ArbiterPostgres {
  private constructor(
    private handle: EmbeddedPostgresHandle | undefined,
    private readonly dataDir: string,
    readonly url: string,
    private readonly port: number,
  ) {}

  static async start(dataDir: string, port: number): Promise<ArbiterPostgres> {
    const handle = await startEmbeddedPostgres({ dataDir, port });
    return new ArbiterPostgres(handle, dataDir, handle.url, port);
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.handle = undefined;
  }

  async restart(): Promise<void> {
    this.handle = await startEmbeddedPostgres({ dataDir: this.dataDir, port: this.port });
  }
}

/**
 * A free port in 12,000–20,000 for a service a fault stops and starts again on the same port:
 * below the kernel's ephemeral range (from 32768 here), so while the service is down no outgoing
 * connection takes it as its source port and keeps it from coming back (a short chaos run in CI
 * once failed so), and below the cluster's own ports (21,000 and up, its membership ports 300
 * lower), which are chosen before any of them binds.
 */
export async function restartablePort(): Promise<number> {
  for (;;) {
    const port = 12_000 + Math.floor(Math.random() * 8_000);
    if (!(await portInUse(port))) return port;
  }
}

/** The Temporal service the run targets, and how its outage fault is made. */
export interface TemporalTarget {
  address: string;
  /** Stops the server (or some of its services) for `downMs`, starts it again; resolves once it serves. */
  outage(downMs: number): Promise<string>;
  close(): Promise<void>;
}

/** The dev server on a SQLite file: stopped and started again on the same file and port. */
export async function devTarget(dir: string, port: number): Promise<TemporalTarget> {
  const options = {
    bin: temporalCliPath(),
    port,
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
  };
  let server: DevServer | undefined = await startDevServer(options);
  return {
    address: server.address,
    async outage(downMs) {
      await server?.stop();
      server = undefined;
      await pause(downMs);
      while (await portInUse(port)) await pause(200);
      server = await startDevServer(options);
      return 'dev server';
    },
    close: async () => server?.stop(),
  };
}

/** The real cluster: history and/or frontend SIGKILLed, then started again. */
export async function clusterTarget(dir: string, port: number, postgresPort: number): Promise<TemporalTarget> {
  const cluster: Cluster = await startCluster({ dir, port, postgresPort, namespace: 'default', say: () => undefined });
  const choices: ClusterService[][] = [['history'], ['frontend'], ['matching'], ['history', 'frontend']];
  return {
    address: cluster.address,
    async outage(downMs) {
      const services = choices[Math.floor(Math.random() * choices.length)];
      for (const s of services) await cluster.kill(s, 'SIGKILL');
      await pause(downMs);
      for (const s of services) await cluster.start(s);
      await cluster.waitServing();
      return services.join('+');
    },
    close: () => cluster.stop(),
  };
}
