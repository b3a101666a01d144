/**
 * The task benchmark: small offline repositories in `bench/tasks/<id>/` (JavaScript and Python),
 * each with a real bug, the tests that must go from failing to passing (FAIL_TO_PASS) and the
 * tests that must keep passing (PASS_TO_PASS). Each task runs through Arbiter's own lifecycle,
 * its tests as the spec's acceptance criteria (each a gate), and is graded by the SWE-bench rule:
 * resolved only when the task completed with every one of those gates passing. The tests live
 * outside the spec's scope, so an agent that edits them fails its scope gate instead of passing.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq, like, or } from 'drizzle-orm';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { ArbiterClient } from '../client/arbiter-client';
import { projectRoot } from '../client/paths';
import { upsertAgent } from '../db/agents';
import type { Db } from '../db/client';
import { addRepo } from '../db/repos';
import { agentOutcomes } from '../db/schema';
import type { ScriptedStep } from '../domain/agent';
import { acceptanceGateName } from '../domain/gate-names';
import type { TaskSnapshot } from '../domain/task';

/** `bench/tasks/<id>/task.json`. */
const TaskDefinitionSchema = z
  .object({
    title: z.string().min(1).max(200),
    language: z.enum(['javascript', 'python']),
    failToPass: z.array(z.string().min(1)).min(1),
    passToPass: z.array(z.string().min(1)).min(1),
  })
  .strict();

/** One benchmark task: its folder holds `repo/` (the buggy project) and `fix/` (the files that fix it). */
export interface BenchTask extends z.infer<typeof TaskDefinitionSchema> {
  id: string;
  dir: string;
}

/** The bundled scripted agents: the known fix, a change that fixes nothing, and one that rewrites the failing tests. */
export const SCRIPTED_BENCH_AGENTS = ['oracle', 'wrong', 'cheat'] as const;
/** One of {@link SCRIPTED_BENCH_AGENTS}. */
export type ScriptedBenchAgent = (typeof SCRIPTED_BENCH_AGENTS)[number];

/** Every task under `root`, by id. */
export function loadBenchTasks(root = path.join(projectRoot(), 'bench', 'tasks')): BenchTask[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
    .map((id) => {
      const dir = path.join(root, id);
      const parsed = TaskDefinitionSchema.safeParse(JSON.parse(readFileSync(path.join(dir, 'task.json'), 'utf8')));
      if (!parsed.success) throw new Error(`bench task ${id}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
      return { id, dir, ...parsed.data };
    });
}

/** The acceptance criteria of `task`: F1… for FAIL_TO_PASS, P1… for PASS_TO_PASS. */
function criteria(task: BenchTask): Array<{ id: string; command: string; kind: 'fail-to-pass' | 'pass-to-pass' }> {
  return [
    ...task.failToPass.map((command, i) => ({ id: `F${i + 1}`, command, kind: 'fail-to-pass' as const })),
    ...task.passToPass.map((command, i) => ({ id: `P${i + 1}`, command, kind: 'pass-to-pass' as const })),
  ];
}

/** The task's CAWS working spec: the fix may touch `src/` only; each test is an acceptance criterion. */
export function benchSpecYaml(task: BenchTask): string {
  return stringify({
    id: `BENCH-${task.id}`.toUpperCase(),
    title: task.title,
    risk_tier: 3,
    mode: 'fix',
    lifecycle_state: 'active',
    blast_radius: { modules: ['src'], data_migration: false },
    operational_rollback_slo: '5m',
    scope: { in: ['src/'], out: ['test/', 'tests/'] },
    invariants: ['the tests are not changed'],
    acceptance: criteria(task).map((c) => ({
      id: c.id,
      given: `the ${task.language} project`,
      when: c.kind === 'fail-to-pass' ? 'the bug is fixed' : 'the fix lands',
      then: `\`${c.command}\` exits 0`,
      test_command: c.command,
    })),
    non_functional: {},
    contracts: [],
  });
}

/** A git repository of the task's buggy project under `parent`, one commit on `main`. */
export function makeBenchRepo(task: BenchTask, parent: string): string {
  const dir = mkdtempSync(path.join(parent, `${task.id}-`));
  cpSync(path.join(task.dir, 'repo'), dir, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@localhost', '-C', dir, ...args], {
      stdio: 'ignore',
    });
  git('init', '--quiet', '--initial-branch=main');
  git('add', '--all');
  git('commit', '--quiet', '-m', `${task.id}: the buggy version`);
  return realpathSync(dir);
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)],
  );
}

/** The plan of a bundled scripted agent for `task`. */
export function scriptedPlan(agent: ScriptedBenchAgent, task: BenchTask): ScriptedStep[] {
  if (agent === 'oracle') {
    const fix = path.join(task.dir, 'fix');
    return filesUnder(fix).map((file) => ({
      op: 'write',
      path: file,
      content: readFileSync(path.join(fix, file), 'utf8'),
    }));
  }
  if (agent === 'wrong')
    return [{ op: 'write', path: 'src/NOTES.md', content: 'Looked into it; nothing to change.\n' }];
  // The test file is the command's last word: rewritten, by a command (the file tools refuse a
  // path out of scope), into one that always passes.
  return task.failToPass.map((command) => ({
    op: 'run',
    argv: [
      'node',
      '-e',
      'require("fs").writeFileSync(process.argv[1], process.argv[2])',
      command.split(' ').pop() as string,
      task.language === 'python' ? 'print("ok")\n' : 'console.log("ok");\n',
    ],
    timeoutSeconds: 60,
  }));
}

/** Who works the tasks: a bundled scripted agent (registered per task), or an agent already registered. */
export type BenchAgent = { scripted: ScriptedBenchAgent } | { agentId: string };

/** One task's grade and what it cost. */
export interface TaskBenchResult {
  task: string;
  language: string;
  resolved: boolean;
  state: string;
  /** Agent attempts; for best of N, the candidates. */
  attempts: number;
  tokens: number;
  costUsd: number;
  wallSeconds: number;
  /** The acceptance gates that did not pass. */
  failing: string[];
  /** Every blocking gate that failed (an agent that edits the tests fails `scope`, its tests passing). */
  failedGates: string[];
  /** Why the task failed, when it did. */
  error?: string;
}

/** Resolved by the SWE-bench rule: completed, and every FAIL_TO_PASS and PASS_TO_PASS test passed. */
export function grade(task: BenchTask, final: TaskSnapshot): { resolved: boolean; failing: string[] } {
  const failing = criteria(task)
    .map((c) => acceptanceGateName(c.id))
    .filter((name) => final.gates.find((g) => g.name === name)?.status !== 'pass');
  return { resolved: final.state === 'COMPLETED' && failing.length === 0, failing };
}

/** What the task's agent runs used: its own, or its candidates' together. */
async function usageOf(db: Db, tenantId: string, taskId: string): Promise<{ tokens: number; costUsd: number }> {
  const rows = await db
    .select()
    .from(agentOutcomes)
    .where(
      and(
        eq(agentOutcomes.tenantId, tenantId),
        or(eq(agentOutcomes.taskId, taskId), like(agentOutcomes.taskId, `${taskId}.candidate-%`)),
      ),
    );
  return {
    tokens: rows.reduce((n, r) => n + r.tokens, 0),
    costUsd: rows.reduce((n, r) => n + r.costUsd, 0),
  };
}

/** What {@link runTaskSuite} needs: where to register and submit, who works, and where repositories go. */
export interface TaskSuiteOptions {
  db: Db;
  client: ArbiterClient;
  tenantId: string;
  agent: BenchAgent;
  tasks: BenchTask[];
  workDir: string;
  /** Makes task ids unique across runs against one database. */
  runId: string;
  /** Best of N: candidates per task (runs of the one agent the suite names). */
  candidates?: number;
}

async function runOne(o: TaskSuiteOptions, task: BenchTask): Promise<TaskBenchResult> {
  const { db, client, tenantId } = o;
  let agentHint: string;
  if ('scripted' in o.agent) {
    agentHint = `bench-${o.agent.scripted}-${task.id}-${o.runId}`;
    await upsertAgent(db, {
      id: agentHint,
      tenantId,
      kind: 'scripted',
      config: { steps: scriptedPlan(o.agent.scripted, task) },
      capabilities: { taskTypes: ['fix'], languages: [task.language] },
      maxConcurrency: o.candidates ?? 1,
    });
  } else agentHint = o.agent.agentId;
  const repo = `bench-${task.id}-${o.runId}`;
  await addRepo(db, { tenantId, name: repo, path: makeBenchRepo(task, o.workDir) });
  const input = {
    tenantId,
    taskId: `${task.id}-${o.runId}`,
    specYaml: benchSpecYaml(task),
    repo,
    agentHint,
    language: task.language,
    ...(o.candidates && o.candidates > 1 ? { candidates: o.candidates } : {}),
  };
  await client.submit(input);
  const final = await client.watch(input, undefined, 500);
  const started = Date.parse(final.history[0]?.at ?? '');
  const ended = Date.parse(final.history[final.history.length - 1]?.at ?? '');
  const executed = final.history.some((h) => h.state === 'EXECUTING');
  return {
    task: task.id,
    language: task.language,
    ...grade(task, final),
    failedGates: final.gates.filter((g) => g.status === 'fail').map((g) => g.name),
    ...(final.error ? { error: `${final.error.type}: ${final.error.message}` } : {}),
    state: final.state,
    attempts: final.candidates.length || (executed ? final.attempts.length + 1 : 0),
    ...(await usageOf(db, tenantId, input.taskId)),
    wallSeconds: Number.isFinite(ended - started) ? (ended - started) / 1000 : 0,
  };
}

/** Runs every task at once through the lifecycle and grades each. */
export function runTaskSuite(o: TaskSuiteOptions): Promise<TaskBenchResult[]> {
  return Promise.all(o.tasks.map((task) => runOne(o, task)));
}

/** The results as a table, with a total line. */
export function describeResults(results: readonly TaskBenchResult[]): string {
  const rows = results.map((r) => [
    r.task,
    r.language,
    r.resolved ? 'yes' : `no (${r.state}: ${r.failedGates.join(', ') || r.error?.slice(0, 120) || 'no verdict'})`,
    String(r.attempts),
    String(r.tokens),
    r.costUsd.toFixed(4),
    r.wallSeconds.toFixed(1),
  ]);
  const sum = (f: (r: TaskBenchResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const resolved = results.filter((r) => r.resolved).length;
  rows.push([
    'total',
    '',
    `${resolved}/${results.length} (${results.length ? Math.round((100 * resolved) / results.length) : 0}%)`,
    String(sum((r) => r.attempts)),
    String(sum((r) => r.tokens)),
    sum((r) => r.costUsd).toFixed(4),
    sum((r) => r.wallSeconds).toFixed(1),
  ]);
  const header = ['task', 'language', 'resolved', 'attempts', 'tokens', 'cost (USD)', 'wall (s)'];
  return [header, header.map((h) => '-'.repeat(h.length)), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
