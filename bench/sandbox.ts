/**
 * Sandbox overhead: the time to run a trivial command through the full confinement
 * (setpriv → prlimit → bwrap) against a bare spawn, and the file tools' throughput including
 * their scope checks and audit rows in a real PostgreSQL. Prints the figures; asserts nothing.
 * Run: `npm run bench:sandbox` (after `npm run setup`).
 */
import { chmodSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createCommandRunner } from '../host/sandbox/commands';
import { DEFAULT_SANDBOX_CONFIG, runningAsRoot } from '../host/sandbox/config';
import { createFileTools } from '../host/sandbox/file-tools';
import { runProcess } from '../host/run-process';
import { runBench, withBenchDatabase } from './harness';

function stats(samples: number[]): { mean: number; p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, p50: at(0.5), p95: at(0.95) };
}

async function time(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

const fmt = (s: { mean: number; p50: number; p95: number }) =>
  `mean ${s.mean.toFixed(1)} ms, p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms`;

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 50);
  await withBenchDatabase(async ({ tmp, database }) => {
    const workspace = path.join(tmp, 'ws');
    mkdirSync(workspace, { mode: 0o777 });
    if (runningAsRoot()) chmodSync(workspace, 0o777);
    const user = { uid: DEFAULT_SANDBOX_CONFIG.uids.first, gid: DEFAULT_SANDBOX_CONFIG.uids.first }; // a bench, no tasks
    const sandboxUser = async () => user;
    const runner = createCommandRunner({ sandbox: DEFAULT_SANDBOX_CONFIG, sandboxUser, warn: () => undefined });
    const bare = stats(
      await time(runs, () =>
        runProcess({ argv: ['true'], cwd: workspace, env: { PATH: '/usr/bin:/bin' }, timeoutMs: 10_000 }),
      ),
    );
    const confined = stats(
      await time(runs, () =>
        runner({
          tenantId: 'bench',
          taskId: 'bench',
          workspacePath: workspace,
          argv: ['true'],
          policy: { allowShell: false },
          timeoutMs: 10_000,
          purpose: 'operator',
        }),
      ),
    );
    console.log(`trivial command (${runs} runs, 'true')`);
    console.log(`  bare spawn:        ${fmt(bare)}`);
    console.log(`  sandboxed (bwrap): ${fmt(confined)}`);
    console.log(
      `  overhead:          +${(confined.mean - bare.mean).toFixed(1)} ms per command, ratio ${(confined.mean / bare.mean).toFixed(1)}x`,
    );

    const tools = createFileTools({ db: database.db, sandbox: DEFAULT_SANDBOX_CONFIG, sandboxUser });
    const call = {
      tenantId: 'bench',
      taskId: `files-${Date.now()}`,
      workspacePath: workspace,
      policy: { scopeIn: ['**'], scopeOut: [], riskTier: 3, allowShell: false },
    };
    const content = 'x'.repeat(1024);
    const files = Number(process.env.BENCH_FILES ?? 500);
    const writes = await time(files, async () =>
      tools.fileWrite({ ...call, path: `src/f${Math.random().toString(36).slice(2)}.txt`, content }),
    );
    await tools.fileWrite({ ...call, path: 'src/probe.txt', content });
    const realReads = await time(files, () => tools.fileRead({ ...call, path: 'src/probe.txt' }));
    const perSecond = (samples: number[]) => (1000 / stats(samples).mean).toFixed(0);
    console.log(`file tools (${files} x 1 KiB, each checked and audited in PostgreSQL)`);
    console.log(`  file_write: ${perSecond(writes)} ops/s (${fmt(stats(writes))})`);
    console.log(`  file_read:  ${perSecond(realReads)} ops/s (${fmt(stats(realReads))})`);
  });
}

runBench(main);
