/**
 * One chaos run: Arbiter's PostgreSQL, the Temporal target (dev server or cluster), worker
 * processes, a steady load of tasks, faults injected throughout, then a drain (no more faults
 * or tasks) and the invariants checked. Everything started is stopped at the end.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { ArbiterClient } from '../../client/arbiter-client';
import { openDatabase } from '../../db/client';
import { migrateDatabase } from '../../db/migrate';
import { loadOrCreateSigningKey } from '../../host/signing';
import { TERMINAL_STATES } from '../../domain/lifecycle';
import { checkChaos, type ChaosFindings } from './checks';
import { FAULT_KINDS, injectFaults, type FaultKind, type FaultPlan } from './faults';
import { CHAOS_TENANTS, chaosTask, feedTasks, seedChaos } from './load';
import { taskWorkflowId } from '../../temporal-config';
import {
  ArbiterPostgres,
  clusterTarget,
  devTarget,
  restartablePort,
  WorkerProcesses,
  type TemporalTarget,
} from './processes';

/** How long, against what, and how hard. */
export interface ChaosOptions {
  minutes: number;
  target: 'dev' | 'cluster';
  inFlight: number;
  workers: number;
  faults: FaultPlan;
  /** How long the drain may take before unfinished tasks count as lost. */
  drainMinutes: number;
  say: (line: string) => void;
}

/** The run's figures and findings. */
export interface ChaosReport extends ChaosFindings {
  tasks: number;
  faultsByKind: Record<FaultKind, number>;
  seconds: number;
}

/** Defaults of the ten-minute run (the CLI's). */
export const DEFAULT_FAULTS: FaultPlan = {
  kinds: [...FAULT_KINDS],
  gapMs: [15_000, 40_000],
  postgresDownMs: [20_000, 40_000],
};

/** Runs the whole thing; never throws for a violation (the report says), only when it cannot run. */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'arbiter-chaos-'));
  chmodSync(dir, 0o755); // the sandbox and the embedded server's user must traverse it
  const stops: Array<() => Promise<unknown>> = [];
  try {
    const postgres = await ArbiterPostgres.start(path.join(dir, 'pg'), await restartablePort());
    stops.push(() => postgres.stop());
    const database = openDatabase(postgres.url);
    stops.push(() => database.close());
    await migrateDatabase(database.pool);
    const { agentIds } = await seedChaos(database, dir);
    const temporal = await startTarget(options.target, dir);
    stops.push(() => temporal.close());
    options.say(
      `${options.target} Temporal at ${temporal.address}; PostgreSQL ${postgres.url.replace(/:[^:@]*@/, ':***@')}`,
    );
    const taskQueue = `chaos-${process.pid}`;
    // One signing key for all workers, as any deployment of several workers needs: a verdict
    // signed on one host is delivered by whichever worker runs the delivery.
    const signingKeyFile = path.join(dir, 'keys', 'verdict-signing.pem');
    loadOrCreateSigningKey(signingKeyFile);
    const workers = new WorkerProcesses(
      {
        TEMPORAL_ADDRESS: temporal.address,
        DATABASE_URL: postgres.url,
        ARBITER_TASK_QUEUE: taskQueue,
        LOG_LEVEL: 'warn',
        ARBITER_SIGNING_KEY_FILE: signingKeyFile,
      },
      dir,
      options.workers,
    );
    workers.startAll();
    stops.push(() => workers.stopAll());
    const client = await ArbiterClient.connect(
      { address: temporal.address, namespace: 'default', tls: false },
      { taskQueue },
    );
    stops.push(() => client.close());
    const stopAt = Date.now() + options.minutes * 60_000;
    const [submitted, faults] = await Promise.all([
      feedTasks({ client, database, inFlight: options.inFlight, stopAt }),
      injectFaults(options.faults, { workers, temporal, postgres }, stopAt, options.say),
    ]);
    options.say(`${submitted} tasks submitted, ${faults.length} faults; draining`);
    const deadline = Date.now() + options.drainMinutes * 60_000;
    await drain(database, submitted, deadline);
    await workflowsClosed(client.temporal, submitted, deadline);
    const endedAt = Date.now();
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const findings = await checkChaos({
      database,
      temporal: new Client({ connection, namespace: 'default' }),
      submitted,
      agentIds,
      faults,
      endedAt,
    });
    const faultsByKind = Object.fromEntries(FAULT_KINDS.map((k) => [k, faults.filter((f) => f.kind === k).length]));
    return {
      tasks: submitted,
      faultsByKind: faultsByKind as ChaosReport['faultsByKind'],
      seconds: (endedAt - started) / 1000,
      ...findings,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    if (!process.env.ARBITER_CHAOS_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function startTarget(target: ChaosOptions['target'], dir: string): Promise<TemporalTarget> {
  if (target === 'dev') return devTarget(dir, await restartablePort());
  return clusterTarget(path.join(dir, 'cluster'), 21_000 + Math.floor(Math.random() * 10_000), await restartablePort());
}

/** Waits until every submitted task has ended (by the database) or the deadline passes. */
async function drain(database: ReturnType<typeof openDatabase>, submitted: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const { rows } = await database.pool
      .query<{ n: number }>('select count(*)::int as n from tasks where tenant_id = any($1) and state = any($2)', [
        CHAOS_TENANTS,
        TERMINAL_STATES,
      ])
      .catch(() => ({ rows: [{ n: -1 }] }));
    if (rows[0].n >= submitted) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Waits (until the deadline) for every task's workflow to close: a task may still tidy up after its end state. */
async function workflowsClosed(temporal: Client, submitted: number, deadline: number): Promise<void> {
  for (let n = 0; n < submitted; n++) {
    const handle = temporal.workflow.getHandle(taskWorkflowId(chaosTask(n)));
    while (Date.now() < deadline) {
      const status = await handle.describe().then(
        (d) => d.status.name,
        () => 'UNKNOWN',
      );
      if (status !== 'RUNNING' && status !== 'UNKNOWN') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** The report as printed, and whether it holds (zero lost and duplicated, nothing broken, stall under a minute). */
export function describeReport(report: ChaosReport): { lines: string[]; ok: boolean } {
  const ok = !report.lost.length && !report.duplicated.length && !report.broken.length && report.stall.ms < 60_000;
  const lines = [
    `tasks: ${report.tasks} (${Object.entries(report.outcomes)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')}) in ${Math.round(report.seconds)} s`,
    ...Object.entries(report.errors).map(([e, n]) => `  ${n}× ${e}`),
    `faults: ${Object.entries(report.faultsByKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `lost: ${report.lost.length}`,
    `duplicated: ${report.duplicated.length}`,
    `other violations: ${report.broken.length}`,
    `longest stall after a fault: ${(report.stall.ms / 1000).toFixed(1)} s${report.stall.task ? ` (${report.stall.task} in ${report.stall.state} after ${report.stall.fault})` : ''}`,
    ...[...report.lost, ...report.duplicated, ...report.broken].slice(0, 40).map((v) => `  ${v}`),
    ok ? 'OK' : 'VIOLATIONS',
  ];
  return { lines, ok };
}
