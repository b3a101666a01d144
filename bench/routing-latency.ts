/**
 * Routing decision latency with 1,000 registered agents: the real `routeTask` activity (the
 * registry query, capacity counts, statistics, Thompson sampling and the recorded decision,
 * under its lock) against a real PostgreSQL. Prints the figures; asserts nothing.
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
  const decisions = Number(process.env.BENCH_DECISIONS ?? 200);
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
    const samples: number[] = [];
    for (let i = 0; i < decisions; i++) {
      const t = process.hrtime.bigint();
      await env.run(activities.routeTask, { tenantId: tenant, taskId: `route-${i}`, taskType: 'feature' });
      samples.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    samples.sort((a, b) => a - b);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    console.log(`routing decision with ${count} registered agents (${decisions} decisions, real PostgreSQL)`);
    console.log(
      `  mean ${mean.toFixed(1)} ms, p50 ${samples[Math.floor(samples.length / 2)].toFixed(1)} ms, p95 ${samples[Math.floor(samples.length * 0.95)].toFixed(1)} ms`,
    );
  });
}

runBench(main);
