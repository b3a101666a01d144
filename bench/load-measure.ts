/**
 * Measuring one phase of the load benchmark from the server's own records: every workflow's
 * start and close time from visibility (latency = close - start, throughput = N / span), and
 * the phase's worker process's resident memory (bench/worker-process.ts) while it runs.
 */
import type { Client } from '@temporalio/client';
import type { RssPeaks } from './worker-process';

/** The figures of one phase. */
export interface PhaseFigures {
  count: number;
  closed: number;
  failed: number;
  seconds: number;
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
  rss: RssPeaks;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] : NaN;
}

/**
 * Waits until no workflow runs on `taskQueue` (checked every 5 s, progress on stderr), or until
 * `timeoutMs`; returns how many still run then (0 when all closed).
 */
export async function waitForAll(client: Client, taskQueue: string, label: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { count } = await client.workflow.count(`TaskQueue="${taskQueue}" AND ExecutionStatus="Running"`);
    if (count === 0 || Date.now() > deadline) return count;
    process.stderr.write(`  ${label}: ${count} running\n`);
    await new Promise((r) => setTimeout(r, 5_000));
  }
}

/** Latency and throughput of the workflows `ids` on `taskQueue`, read from visibility. */
export async function phaseFigures(
  client: Client,
  taskQueue: string,
  ids: Set<string>,
  rss: RssPeaks,
): Promise<PhaseFigures> {
  const latencies: number[] = [];
  let first = Infinity;
  let last = 0;
  let failed = 0;
  for await (const wf of client.workflow.list({ query: `TaskQueue="${taskQueue}"` })) {
    if (!ids.has(wf.workflowId) || !wf.closeTime) continue;
    if (wf.status.name !== 'COMPLETED') failed++;
    first = Math.min(first, wf.startTime.getTime());
    last = Math.max(last, wf.closeTime.getTime());
    latencies.push((wf.closeTime.getTime() - wf.startTime.getTime()) / 1000);
  }
  latencies.sort((a, b) => a - b);
  const seconds = (last - first) / 1000;
  return {
    count: ids.size,
    closed: latencies.length,
    failed,
    seconds,
    throughput: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p95: percentile(latencies, 0.95),
    p99: percentile(latencies, 0.99),
    rss,
  };
}

/** One line of figures. */
export function describePhase(label: string, f: PhaseFigures): string {
  return (
    `${label.padEnd(8)} ${f.closed}/${f.count} closed (${f.failed} not completed) in ${f.seconds.toFixed(1)} s: ` +
    `${f.throughput.toFixed(2)}/s, latency p50 ${f.p50.toFixed(1)} s, p95 ${f.p95.toFixed(1)} s, ` +
    `p99 ${f.p99.toFixed(1)} s, worker RSS peak ${f.rss.workerMiB} MiB (main-thread heap ${f.rss.heapMiB}, ` +
    `external ${f.rss.externalMiB}; spawners ${f.rss.spawnerMiB} MiB)`
  );
}
