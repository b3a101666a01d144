/**
 * Load benchmark: N tasks in flight at once through the whole lifecycle (an instant scripted
 * agent writing one file, one trivial gate), and in the same run N of a bare workflow running
 * the same sequence of no-op activities and local activities as one of those tasks' history
 * shows (the floor: what Temporal alone costs). Prints throughput, latency percentiles, the
 * RSS peak of the phase's worker process (and of its spawners), the ratio to the floor, and
 * whether every task completed exactly once; per phase, the CPU of its worker, of the worker's
 * subprocesses, of the Temporal dev server and of PostgreSQL.
 *
 *   node lib/bench/load.js --tasks 200 [--address host:port [--metrics URL]] [--db-pool 10]
 *
 * `--db-pool` sizes the worker's PostgreSQL pool (the worker's own default is 10). `--metrics` is
 * the Prometheus endpoint of a server given by --address (the dev server's is its own), from which
 * each phase prints the server calls and persistence operations a workflow cost
 * (BENCH_METRIC_DETAIL=1: by the service and namespace that counted them, too).
 * BENCH_WORKER_NODE_ARGS adds Node options to both worker processes (`--cpu-prof
 * --cpu-prof-dir=DIR` profiles them; `--perf-basic-prof` names their JIT frames for `perf`).
 *
 * Without --address it starts a Temporal dev server (SQLite file) from the installed CLI, as
 * `arbiter start` does; PostgreSQL is always an embedded one (bench/harness.ts). Each worker runs
 * in its own process (bench/load-worker.ts), configured from the environment as `arbiter worker`
 * is: both get the SDK's default slot sizes and ARBITER_MAX_CACHED_WORKFLOWS, so the floor and
 * Arbiter are sized alike.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { ArbiterClient } from '../client/arbiter-client';
import { freePorts, startDevServer } from '../client/dev-server';
import { temporalCliPath } from '../client/paths';
import { upsertAgent } from '../db/agents';
import type { Database } from '../db/client';
import { addRepo } from '../db/repos';
import type { FloorStep } from './floor-workflow';
import { runBench, withBenchDatabase } from './harness';
import { verifyNothingLost } from './load-checks';
import { cpuMeter, describeProfile, profileHistories, serviceCpuMeter } from './load-profile';
import { describePhase, phaseFigures, waitForAll, type PhaseFigures } from './load-measure';
import { describeServerCounts, perWorkflow, scrapeServer } from './server-metrics';
import { rssSampler, startWorkerProcess, type WorkerProcess } from './worker-process';

const TENANT = 'bench';
const NAMESPACE = 'default';

function options(): { tasks: number; address?: string; metrics?: string; dbPool: number } {
  const { values } = parseArgs({
    options: {
      tasks: { type: 'string', default: '200' },
      address: { type: 'string' },
      metrics: { type: 'string' },
      'db-pool': { type: 'string', default: '10' },
    },
  });
  const [tasks, dbPool] = [Number(values.tasks), Number(values['db-pool'])];
  if (!Number.isInteger(tasks) || tasks < 1) throw new Error('--tasks must be a positive integer');
  if (!Number.isInteger(dbPool) || dbPool < 1) throw new Error('--db-pool must be a positive integer');
  if (values.metrics && !values.address) throw new Error('--metrics names the endpoint of a server given by --address');
  return { tasks, address: values.address, metrics: values.metrics, dbPool };
}

const SPEC = `id: BENCH-001
title: Load benchmark change
risk_tier: 3
mode: feature
lifecycle_state: active
blast_radius: { modules: [src], data_migration: false }
operational_rollback_slo: 5m
scope: { in: [src/], out: [] }
invariants: [nothing else changes]
acceptance: [{ id: A1, given: the app, when: the change lands, then: it works }]
non_functional: {}
contracts: []
`;

/** A target repository, registered, and instant scripted agents with room for every task. */
async function fixture(tmp: string, database: Database, tasks: number): Promise<string> {
  const repo = path.join(tmp, 'target');
  mkdirSync(path.join(repo, 'src'), { recursive: true });
  writeFileSync(path.join(repo, 'src', 'app.js'), 'module.exports = 1;\n');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@localhost', '-C', repo, ...args]);
  git('init', '--quiet', '--initial-branch=main');
  git('add', '--all');
  git('commit', '--quiet', '-m', 'initial');
  await addRepo(database.db, { tenantId: TENANT, name: 'target', path: repo });
  // An agent takes at most 1,000 tasks at once: as many instant agents as the load needs.
  for (let i = 0; i * 1000 < tasks + 1; i++)
    await upsertAgent(database.db, {
      id: `instant-${i}`,
      tenantId: TENANT,
      kind: 'scripted',
      config: { steps: [{ op: 'write', path: 'src/feature.js', content: 'module.exports = () => 42;\n' }] },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 1000,
    });
  return 'target';
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function inBatches<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += limit) await Promise.all(items.slice(i, i + limit).map(fn));
}

/** The activities and local activities a task's history scheduled, in order, and what else it holds. */
async function stepsOf(client: Client, workflowId: string): Promise<{ steps: FloorStep[]; shape: string }> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const steps = events.flatMap((e): FloorStep[] => {
    if (e.activityTaskScheduledEventAttributes) return ['activity'];
    if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') return ['local'];
    return [];
  });
  const upserts = events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length;
  const patches = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length;
  return { steps, shape: `${events.length} events, ${upserts} search attribute upserts, ${patches} patch markers` };
}

/** Starts every workflow `start` describes, waits for all of them, and measures the phase and its `worker`. */
async function phase(
  client: Client,
  metrics: string | undefined,
  worker: WorkerProcess,
  taskQueue: string,
  label: string,
  ids: string[],
  start: (id: string) => Promise<unknown>,
): Promise<PhaseFigures> {
  const rss = rssSampler(worker);
  const cpu = cpuMeter(worker.pid);
  const services = serviceCpuMeter();
  const detail = Boolean(process.env.BENCH_METRIC_DETAIL);
  const counts = await scrapeServer(metrics, detail);
  await inBatches(ids, 100, start);
  const stuck = await waitForAll(client, taskQueue, label, Math.max(1_200_000, ids.length * 3_000));
  const figures = await phaseFigures(client, taskQueue, new Set(ids), rss.stop());
  const { self, children } = cpu.stop();
  const { temporal, postgres, elsewhere } = services.stop();
  const served = perWorkflow(counts, await scrapeServer(metrics, detail), ids.length);
  console.log(describePhase(label, figures) + (stuck ? `; ${stuck} STILL RUNNING at the timeout` : ''));
  console.log(
    `  CPU: worker process ${self.toFixed(1)} s, its subprocesses (spawners, git, bwrap) ${children.toFixed(1)} s,` +
      ` Temporal dev server ${temporal.toFixed(1)} s, PostgreSQL ${postgres.toFixed(1)} s,` +
      ` outside the benchmark (a server given by --address, other work) ${elsewhere.toFixed(1)} s`,
  );
  console.log(describeServerCounts(served));
  console.log(describeProfile(await profileHistories(client, ids), Math.min(ids.length, 50)));
  return figures;
}

async function main(): Promise<void> {
  const { tasks, address: given, metrics: givenMetrics, dbPool } = options();
  await withBenchDatabase(
    async ({ tmp, database, url }) => {
      const [port, metricsPort] = await freePorts(2);
      const server = given
        ? undefined
        : await startDevServer({
            bin: temporalCliPath(),
            port,
            metricsPort,
            dbFile: path.join(tmp, 'temporal.db'),
            logFile: path.join(tmp, 'temporal.log'),
          });
      // Stopped whatever happens, so a failed run leaves no dev server behind.
      try {
        const address = given ?? server!.address;
        const metrics = givenMetrics ?? server?.metrics;
        // Every id carries this run's token: a server given by --address keeps the runs of earlier benchmarks.
        const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
        const taskQueue = `bench-load-${run}`;
        const floorQueue = `${taskQueue}-floor`;
        const arbiter = await ArbiterClient.connect({ address, namespace: NAMESPACE, tls: false }, { taskQueue });
        const repo = await fixture(tmp, database, tasks);
        const workerEnv = (queue: string, log: string) => ({
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: NAMESPACE,
          DATABASE_URL: url,
          ARBITER_HOME: path.join(tmp, 'home'),
          ARBITER_TASK_QUEUE: queue,
          BENCH_DB_POOL: String(dbPool),
          BENCH_LOG_FILE: path.join(tmp, log),
        });
        const workers = await Promise.allSettled([
          startWorkerProcess('arbiter', workerEnv(taskQueue, 'worker.log')),
          startWorkerProcess('floor', workerEnv(floorQueue, 'floor.log')),
        ]);
        const [worker, floor] = workers.map((w) => (w.status === 'fulfilled' ? w.value : undefined));
        try {
          if (!worker || !floor) throw workers.find((w) => w.status === 'rejected')?.reason;
          const input = (taskId: string) => ({
            tenantId: TENANT,
            taskId,
            specYaml: SPEC,
            repo,
            gates: [{ name: 'ok', argv: ['true'] }],
          });
          const warm = input(`warm-up-${run}`);
          await arbiter.submit(warm);
          const ended = await arbiter.watch(warm);
          if (ended.state !== 'COMPLETED')
            throw new Error(`warm-up task ended ${ended.state}: ${JSON.stringify(ended.error)}`);
          const { steps, shape } = await stepsOf(arbiter.temporal, ended.workflowId);
          const locals = steps.filter((s) => s === 'local').length;
          console.log(
            `load benchmark: ${tasks} in flight at once, ${given ? `server ${given}` : 'dev server (SQLite)'}`,
          );
          console.log(
            `one task schedules ${steps.length - locals} activities and ${locals} local activities (history: ${shape})`,
          );

          const floorIds = Array.from({ length: tasks }, (_, i) => `bench-floor-${run}-${i}`);
          const floorFigures = await phase(
            arbiter.temporal,
            metrics,
            floor,
            floorQueue,
            'floor',
            floorIds,
            (workflowId) =>
              arbiter.temporal.workflow.start('floorWorkflow', {
                workflowId,
                taskQueue: floorQueue,
                args: [{ steps }],
              }),
          );
          const taskIds = Array.from({ length: tasks }, (_, i) => `load-${run}-${i}`);
          const arbiterFigures = await phase(
            arbiter.temporal,
            metrics,
            worker,
            taskQueue,
            'arbiter',
            taskIds.map((id) => `task/${TENANT}/${id}`),
            (workflowId) => arbiter.submit(input(workflowId.split('/')[2])),
          );
          console.log(
            `ratio arbiter/floor throughput ${(arbiterFigures.throughput / floorFigures.throughput).toFixed(2)}`,
          );
          console.log(await verifyNothingLost(database, TENANT, taskIds));
        } finally {
          await Promise.allSettled([worker?.stop(), floor?.stop()]);
          await arbiter.close();
        }
      } finally {
        await server?.stop();
      }
    },
    { poolMax: dbPool },
  );
}

runBench(main);
