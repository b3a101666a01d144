/**
 * `arbiter cluster start|stop|status`: a real Temporal cluster on this host without Docker
 * (client/cluster/). `start` builds the server once, starts everything and serves until
 * Ctrl-C or `arbiter cluster stop`, then stops everything it started.
 */
import type { Command } from 'commander';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { startCluster } from '../cluster/cluster';
import { clusterServing } from '../cluster/namespace';
import { arbiterHomeOf, refuseCarriedHome } from '../../host/checkout-carried';
import { loadClientConfig } from '../config';
import { processAlive } from '../orphans';
import { EXIT } from './output';

const out = (line: string) => process.stdout.write(`${line}\n`);

interface ClusterFlags {
  dir?: string;
  port: string;
  postgresPort: string;
  namespace: string;
}

/** `--dir`, or `cluster/` of Arbiter's home (refused when that home came with a checkout). */
function stateDir(flags: ClusterFlags): string {
  if (flags.dir) return path.resolve(flags.dir);
  const config = loadClientConfig();
  refuseCarriedHome(arbiterHomeOf(config));
  return path.resolve(config.home, 'cluster');
}

const pidFile = (dir: string) => path.join(dir, 'cluster.pid');

async function start(flags: ClusterFlags): Promise<number> {
  const stopped = new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const dir = stateDir(flags);
  const cluster = await startCluster({
    dir,
    port: Number(flags.port),
    postgresPort: Number(flags.postgresPort),
    namespace: flags.namespace,
    say: out,
  });
  writeFileSync(pidFile(dir), `${process.pid}\n`);
  out(`Temporal cluster SERVING at ${cluster.address} (state in ${dir}); Ctrl-C or \`arbiter cluster stop\` stops it`);
  out(`use it: TEMPORAL_ADDRESS=${cluster.address} arbiter start   (or arbiter worker with DATABASE_URL)`);
  await stopped;
  out('stopping…');
  await cluster.stop();
  rmSync(pidFile(dir), { force: true });
  return EXIT.ok;
}

async function stop(flags: ClusterFlags): Promise<number> {
  const file = pidFile(stateDir(flags));
  const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
  if (!Number.isInteger(pid) || !processAlive(pid)) {
    out('no cluster is running for this state folder');
    return EXIT.ok;
  }
  process.kill(pid, 'SIGTERM');
  while (processAlive(pid)) await new Promise((r) => setTimeout(r, 200));
  out('cluster stopped');
  return EXIT.ok;
}

async function status(flags: ClusterFlags): Promise<number> {
  const address = `127.0.0.1:${flags.port}`;
  const serving = await clusterServing(address);
  out(`${address}: ${serving ? 'SERVING' : 'not serving'}`);
  return serving ? EXIT.ok : EXIT.failed;
}

/** Registers `cluster` on `program`. */
export function registerClusterCommand(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const cluster = program.command('cluster').description('a real Temporal cluster on this host (no Docker)');
  const withFlags = (c: Command) =>
    c
      .option('--dir <path>', 'state folder (default: ARBITER_HOME/cluster)')
      .option('--port <n>', 'frontend gRPC port (history, matching, worker: +1, +2, +6)', '7233')
      .option('--postgres-port <n>', "port of Temporal's own PostgreSQL", '5434')
      .option('--namespace <name>', 'namespace to create', 'default');
  withFlags(
    cluster.command('start').description('build once, start PostgreSQL and the four services; serve until stopped'),
  ).action((f: ClusterFlags) => run(() => start(f)));
  withFlags(cluster.command('stop').description('stop the cluster `cluster start` is serving')).action(
    (f: ClusterFlags) => run(() => stop(f)),
  );
  withFlags(cluster.command('status').description('SERVING or not')).action((f: ClusterFlags) => run(() => status(f)));
}
