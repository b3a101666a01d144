/**
 * `npm run bench:tasks -- --agent oracle|wrong|cheat` or `-- --preset NAME [--model M]
 * [--upstream URL] [--key-env VAR]`, with `--candidates N` for best of N (N runs of the agent): runs every task of the benchmark (bench/task-suite.ts)
 * through a local stack of its own (Temporal dev server, embedded PostgreSQL, in-process worker,
 * all under a scratch ARBITER_HOME) and prints, per task and in total: resolved, attempts,
 * tokens, cost and wall time. `--tasks a,b` picks tasks. Exits 1 when it could not run.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ArbiterClient } from '../client/arbiter-client';
import { presetRegistration } from '../client/cli/agents-preset';
import { loadClientConfig } from '../client/config';
import { freePorts } from '../client/dev-server';
import { startLocalStack } from '../client/local-stack';
import { upsertAgent } from '../db/agents';
import { MAX_CANDIDATES } from '../domain/candidates';
import { runBench } from './harness';
import {
  describeResults,
  loadBenchTasks,
  runTaskSuite,
  SCRIPTED_BENCH_AGENTS,
  type BenchAgent,
  type BenchTask,
} from './task-suite';

const TENANT = 'bench';

const OptionsSchema = z
  .object({
    agent: z.enum(SCRIPTED_BENCH_AGENTS).optional(),
    preset: z.string().min(1).optional(),
    model: z.string().optional(),
    upstream: z.string().optional(),
    'key-env': z.string().optional(),
    tasks: z.string().optional(),
    candidates: z.coerce.number().int().min(1).max(MAX_CANDIDATES).optional(),
  })
  .refine((o) => (o.agent === undefined) !== (o.preset === undefined), 'give exactly one of --agent and --preset');

function options() {
  const { values } = parseArgs({
    options: {
      agent: { type: 'string' },
      preset: { type: 'string' },
      model: { type: 'string' },
      upstream: { type: 'string' },
      'key-env': { type: 'string' },
      tasks: { type: 'string' },
      candidates: { type: 'string' },
    },
  });
  const parsed = OptionsSchema.safeParse(values);
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '));
  return parsed.data;
}

function pickTasks(all: BenchTask[], names?: string): BenchTask[] {
  if (!names) return all;
  const wanted = names.split(',');
  const unknown = wanted.filter((n) => !all.some((t) => t.id === n));
  if (unknown.length)
    throw new Error(`unknown task(s): ${unknown.join(', ')}; tasks: ${all.map((t) => t.id).join(', ')}`);
  return all.filter((t) => wanted.includes(t.id));
}

async function main(o: ReturnType<typeof options>): Promise<void> {
  const tasks = pickTasks(loadBenchTasks(), o.tasks);
  const home = mkdtempSync(path.join(os.tmpdir(), 'arbiter-bench-tasks-'));
  chmodSync(home, 0o755); // the sandbox user walks through it to its workspaces
  process.env.ARBITER_HOME = home;
  const config = loadClientConfig();
  const [temporal, ui, postgres] = await freePorts(3);
  const ports = { temporal, ui, postgres };
  const stack = await startLocalStack(config, ports, (line) => process.stderr.write(`${line}\n`));
  try {
    const db = stack.adminDatabase.db;
    let agent: BenchAgent;
    if (o.agent) agent = { scripted: o.agent };
    else {
      const { config: agentConfig, warnings } = presetRegistration({
        preset: o.preset,
        model: o.model,
        upstream: o.upstream,
        keyEnv: o['key-env'],
      });
      warnings.forEach((w) => process.stderr.write(`warning: ${w}\n`));
      const id = `bench-${o.preset}`;
      await upsertAgent(db, {
        id,
        tenantId: TENANT,
        kind: 'command',
        config: agentConfig,
        capabilities: { taskTypes: ['fix'] },
        maxConcurrency: tasks.length * (o.candidates ?? 1),
      });
      agent = { agentId: id };
    }
    const client = await ArbiterClient.connect(
      { ...config.temporal, address: stack.info.temporalAddress },
      { taskQueue: config.taskQueue },
    );
    try {
      const runId = Date.now().toString(36);
      const results = await runTaskSuite({
        db,
        client,
        tenantId: TENANT,
        agent,
        tasks,
        workDir: home,
        runId,
        candidates: o.candidates,
      });
      process.stdout.write(`${describeResults(results)}\n`);
    } finally {
      await client.close();
    }
  } finally {
    await stack.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

let parsed: ReturnType<typeof options>;
try {
  parsed = options();
} catch (err) {
  process.stderr.write(`bench:tasks: ${(err as Error).message}\n`);
  process.exit(2);
}
runBench(() => main(parsed));
