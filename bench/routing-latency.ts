/**
 * Routing decision latency with 1,000 registered agents: the real `routeTask` activity (the
 * registry query, capacity counts, statistics, Thompson sampling and the recorded decision,
 * under its lock) against a real PostgreSQL. The first decisions of a process (compiling, each
 * connection's first prepared statements) are printed apart: the figures are a running worker's.
 * Prints the figures; asserts nothing.
 */
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../activities';
import { DEFAULT_SANDBOX_CONFIG } from '../host/sandbox/config';
import { recordOutcome } from '../db/agent-stats';
import { agents } from '../db/schema';
import { createVerdictSigner, loadOrCreateSigningKey } from '../host/signing';
import { runBench, withBenchDatabase } from './harness';
import { SILENT_LOGGER } from '../workers/logger';

async function main(): Promise<void> {
  const count = Number(process.env.BENCH_AGENTS ?? 1000);
  const decisions = Number(process.env.BENCH_DECISIONS ?? 1000);
  const warmUp = Number(process.env.BENCH_WARM_UP ?? 50);
  await withBenchDatabase(async ({ tmp, database }) => {
    const tenant = 'bench';
    const rows = Array.from({ length: count }, (_, i) => ({
      id: `agent-${String(i).padStart(4, '0')}`,
      tenantId: tenant,
      name: `agent ${i}`,
      kind: 'scripted',
      config: { steps: [{ op: 'delete', path: 'x' }] },
      capabilities: { taskTypes: i % 2 ? ['feature'] : ['feature', 'fix'], languages: [], tags: [] },
      maxConcurrency: 1000,
    }));
    for (let i = 0; i < rows.length; i += 500) await database.db.insert(agents).values(rows.slice(i, i + 500));
    for (let i = 0; i < count; i += 3) {
      await recordOutcome(database.db, {
        tenantId: tenant,
        taskId: `history-${i}`,
        agentId: rows[i].id,
        taskType: 'feature',
        outcome: i % 2 ? 'PASS' : 'FAIL',
        reward: i % 2,
        latencyMs: 1000,
        tokens: 0,
        costUsd: 0,
      });
    }
    const activities = createActivities({
      db: database.db,
      home: tmp,
      hostQueue: 'bench',
      sandbox: DEFAULT_SANDBOX_CONFIG,
      retentionHours: 24,
      secretEnv: () => undefined,
      signer: createVerdictSigner(loadOrCreateSigningKey(path.join(tmp, 'key.pem'))),
    });
    const env = new MockActivityEnvironment(undefined, { logger: SILENT_LOGGER });
    const decide = async (taskId: string) => {
      const t = process.hrtime.bigint();
      await env.run(activities.routeTask, { tenantId: tenant, taskId, taskType: 'feature' });
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const cold: number[] = [];
    for (let i = 0; i < warmUp; i++) cold.push(await decide(`warm-up-${i}`));
    const samples: number[] = [];
    for (let i = 0; i < decisions; i++) samples.push(await decide(`route-${i}`));
    const mean = (xs: number[]) => (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
    const at = (p: number) => samples[Math.floor(samples.length * p)].toFixed(1);
    samples.sort((a, b) => a - b);
    console.log(`routing decision with ${count} registered agents (real PostgreSQL)`);
    if (cold.length)
      console.log(
        `  first ${cold.length} decisions of the process: mean ${mean(cold)} ms, slowest ${Math.max(...cold).toFixed(1)} ms`,
      );
    console.log(
      `  the next ${decisions}: mean ${mean(samples)} ms, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, p99 ${at(0.99)} ms`,
    );
  });
}

runBench(main);
