/**
 * The chaos run's workload: two tenants, each with a scripted agent (one instant, one that
 * runs a command for a few seconds) and a repository, and tasks that mix no gate, a trivial
 * gate and a gate that waits, so faults land in the middle of activities.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArbiterClient } from '../../client/arbiter-client';
import { upsertAgent } from '../../db/agents';
import type { Database } from '../../db/client';
import { addRepo } from '../../db/repos';
import { TERMINAL_STATES } from '../../domain/lifecycle';
import type { TaskInput } from '../../domain/task';
import { gitIn, specYaml } from '../../test/helpers/fixtures';

/** The tenants of a chaos run, one per agent plan. */
export const CHAOS_TENANTS = ['chaos-quick', 'chaos-slow'] as const;

const PLANS = {
  'chaos-quick': [{ op: 'write' as const, path: 'src/feature.js', content: 'module.exports = () => 42;\n' }],
  'chaos-slow': [
    { op: 'run' as const, argv: ['sleep', '3'] },
    { op: 'write' as const, path: 'src/feature.js', content: 'module.exports = () => 43;\n' },
  ],
};

const GATES = [[], [{ name: 'quick', argv: ['true'] }], [{ name: 'wait', argv: ['sleep', '2'] }]];

function makeRepo(dir: string): string {
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'src', 'app.js'), 'module.exports = 1;\n');
  gitIn(dir, 'init', '--quiet', '--initial-branch=main');
  gitIn(dir, 'add', '--all');
  gitIn(dir, 'commit', '--quiet', '-m', 'initial');
  return dir;
}

/** Registers the agents and repositories; returns the agent ids and each tenant's repository path. */
export async function seedChaos(database: Database, dir: string) {
  const repos: Record<string, string> = {};
  for (const tenantId of CHAOS_TENANTS) {
    await upsertAgent(database.db, {
      id: `${tenantId}-agent`,
      tenantId,
      kind: 'scripted',
      config: { steps: PLANS[tenantId] },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 1000,
    });
    repos[tenantId] = makeRepo(path.join(dir, 'repos', tenantId));
    await addRepo(database.db, { tenantId, name: 'target', path: repos[tenantId] });
  }
  return { agentIds: CHAOS_TENANTS.map((t) => `${t}-agent`), repos };
}

/** The n-th task of the run. */
export function chaosTask(n: number): TaskInput & { tenantId: (typeof CHAOS_TENANTS)[number] } {
  return {
    tenantId: CHAOS_TENANTS[n % 2],
    taskId: `chaos-${n}`,
    specYaml: specYaml(),
    repo: 'target',
    gates: GATES[Math.floor(n / 2) % 3],
  };
}

/** How long submission may keep failing before the run gives up: far longer than any injected outage. */
const SUBMIT_GIVE_UP_MS = 120_000;

/** Submits until it succeeds (Temporal may be down); submission attaches to a run that already started. */
async function submitRetrying(client: ArbiterClient, input: TaskInput): Promise<void> {
  const giveUpAt = Date.now() + SUBMIT_GIVE_UP_MS;
  for (;;) {
    try {
      await client.submit(input);
      return;
    } catch (err) {
      if (Date.now() > giveUpAt) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** How many of the first `submitted` tasks have ended, by Arbiter's database; undefined while it is down. */
async function endedCount(database: Database): Promise<number | undefined> {
  try {
    const { rows } = await database.pool.query<{ n: number }>(
      'select count(*)::int as n from tasks where tenant_id = any($1) and state = any($2)',
      [CHAOS_TENANTS, TERMINAL_STATES],
    );
    return rows[0].n;
  } catch {
    return undefined;
  }
}

/**
 * Keeps `inFlight` tasks running while `feeding()` holds; returns when each task was submitted
 * (ms, the first attempt: a task is in flight, for the stall figure, from then), in task order.
 */
export async function feedTasks(options: {
  client: ArbiterClient;
  database: Database;
  inFlight: number;
  feeding: () => boolean;
}): Promise<number[]> {
  const submittedAt: number[] = [];
  let ended = 0;
  while (options.feeding()) {
    ended = (await endedCount(options.database)) ?? ended;
    while (submittedAt.length - ended < options.inFlight && options.feeding()) {
      submittedAt.push(Date.now());
      await submitRetrying(options.client, chaosTask(submittedAt.length - 1));
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return submittedAt;
}
