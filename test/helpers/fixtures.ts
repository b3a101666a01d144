/** Builders for real target repositories, specs and agents used by integration tests. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { stringify } from 'yaml';
import { upsertAgent } from '../../db/agents';
import { agentCircuits } from '../../db/schema';
import { addRepo } from '../../db/repos';
import type { ScriptedStep } from '../../domain/agent';
import type { TaskInput } from '../../domain/task';
import { testStack } from './stack';
import { tempDir } from './temp';

export { tempDir, trackTempDir } from './temp';

/** A short unique id, so tests never collide on tenants, tasks or agents. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Runs git in `dir` and returns trimmed stdout. */
export function gitIn(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@localhost', '-C', dir, ...args], {
    encoding: 'utf8',
  }).trim();
}

/** A git repository with `files` committed on `main`. */
export function makeRepo(
  files: Record<string, string> = { 'src/app.js': 'module.exports = 1;\n', 'README.md': '# target\n' },
): string {
  const dir = tempDir('arbiter-target-');
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), content);
  }
  gitIn(dir, 'init', '--quiet', '--initial-branch=main');
  gitIn(dir, 'add', '--all');
  gitIn(dir, 'commit', '--quiet', '-m', 'initial');
  return dir;
}

/** A valid current-format CAWS spec (tier 3, mode feature, scope src/**) with `overrides` merged in. */
export function specYaml(overrides: Record<string, unknown> = {}): string {
  return stringify({
    id: 'TEST-001',
    title: 'Test change',
    risk_tier: 3,
    mode: 'feature',
    lifecycle_state: 'active',
    blast_radius: { modules: ['src'], data_migration: false },
    operational_rollback_slo: '5m',
    scope: { in: ['src/'], out: ['src/secret/'] },
    invariants: ['nothing else changes'],
    acceptance: [{ id: 'A1', given: 'the app', when: 'the change lands', then: 'it works' }],
    non_functional: {},
    contracts: [],
    ...overrides,
  });
}

/** Registers a scripted agent for `tenantId` only (so other tests' agents never interfere). */
export async function addScriptedAgent(
  tenantId: string,
  steps: ScriptedStep[],
  options: { taskTypes?: string[]; id?: string; maxConcurrency?: number } = {},
) {
  return upsertAgent(testStack().database.db, {
    id: options.id ?? uniqueId('agent'),
    tenantId,
    kind: 'scripted',
    config: { steps },
    capabilities: { taskTypes: options.taskTypes ?? ['feature'] },
    maxConcurrency: options.maxConcurrency ?? 10,
  });
}

/** `tenantId`'s circuit for the agent: [infrastructure failures in a row, open until], [0, null] for none. */
export async function circuitOf(tenantId: string, agentId: string): Promise<[number, Date | null]> {
  const [row] = await testStack()
    .database.db.select()
    .from(agentCircuits)
    .where(and(eq(agentCircuits.tenantId, tenantId), eq(agentCircuits.agentId, agentId)));
  return row ? [row.consecutiveInfraFailures, row.circuitOpenUntil] : [0, null];
}

/** Registers a `command` agent for `tenantId` that runs `script` with `sh -c` (its prompt on stdin), with `config` besides. */
export async function addCommandAgent(tenantId: string, script: string, config: Record<string, unknown> = {}) {
  return upsertAgent(testStack().database.db, {
    id: uniqueId('agent'),
    tenantId,
    kind: 'command',
    config: { argv: ['sh', '-c', script], ...config },
    capabilities: { taskTypes: ['feature'] },
  });
}

/** Registers an `openai` agent for `tenantId` on a fake model server at `baseUrl`, its key in `apiKeyEnv`. */
export async function addOpenAIAgent(tenantId: string, baseUrl: string, apiKeyEnv: string) {
  return upsertAgent(testStack().database.db, {
    id: uniqueId('gpt'),
    tenantId,
    kind: 'openai',
    config: { baseUrl, model: 'fake-gpt', apiKeyEnv, pricing: { inputPerMillion: 3, outputPerMillion: 15 } },
    capabilities: { taskTypes: ['feature'] },
    maxConcurrency: 2,
  });
}

/** A plan that adds one file inside the default scope. */
export const GOOD_PLAN: ScriptedStep[] = [
  { op: 'write', path: 'src/feature.js', content: 'module.exports = () => 42;\n' },
];

const registeredDirs = new Map<string, string>();

/**
 * Registers `dir` (a fresh repository by default) for `tenantId` under a new name, as
 * `arbiter repos add` does, and returns the name a task uses.
 */
export async function registerRepo(tenantId: string, dir: string = makeRepo()): Promise<string> {
  const name = uniqueId('repo');
  await addRepo(testStack().database.db, { tenantId, name, path: realpathSync(dir) });
  registeredDirs.set(name, dir);
  return name;
}

/** Registers `dir` for `tenantId` and returns its path, for tests that run a repository's activities directly. */
export async function registeredPath(tenantId: string, dir: string = makeRepo()): Promise<string> {
  await registerRepo(tenantId, dir);
  return realpathSync(dir);
}

/** The directory {@link registerRepo} registered under `name`, for checking what was delivered there. */
export function repoDir(name: string): string {
  const dir = registeredDirs.get(name);
  if (!dir) throw new Error(`no repository '${name}' was registered by this test run`);
  return dir;
}

/**
 * A fresh tenant with a scripted agent that writes GOOD_PLAN and a registered repository, and
 * the input of a task that passes there: the happy path most tests start from.
 */
export async function goodTaskInput(prefix = 'tenant') {
  const tenant = uniqueId(prefix);
  await addScriptedAgent(tenant, GOOD_PLAN);
  return taskInput(tenant);
}

/** The input of a task for `tenantId` on repository `dir` (registered here), with `extra` on top. */
export async function taskInput(
  tenantId: string,
  dir: string = makeRepo(),
  extra: Partial<TaskInput> = {},
): Promise<TaskInput & { tenantId: string; taskId: string }> {
  return {
    tenantId,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenantId, dir),
    ...extra,
  };
}
