/**
 * One chaos run: Arbiter's PostgreSQL, the Temporal target (dev server or cluster), worker
 * processes, a steady load of tasks, faults injected throughout (past the run's minutes if
 * that is what it takes to inject every kind once; tasks are fed as long as faults come), then
 * a drain (no more faults or tasks) and the invariants checked. Everything started is stopped at the end.
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
import { checkChaos } from './checks';
import { FAULT_KINDS, injectFaults, type FaultPlan } from './faults';
import { countFaults, type ChaosReport } from './report';
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
    const { agentIds, repos } = await seedChaos(database, dir);
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
    let injecting = true;
    const [submittedAt, faults] = await Promise.all([
      feedTasks({ client, database, inFlight: options.inFlight, feeding: () => injecting }),
      injectFaults(options.faults, { workers, temporal, postgres }, stopAt, options.say).finally(() => {
        injecting = false;
      }),
    ]);
    const submitted = submittedAt.length;
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
      submittedAt,
      agentIds,
      repos,
      faults,
      endedAt,
    });
    return {
      tasks: submitted,
      faultsByKind: countFaults(options.faults.kinds, faults),
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
