/**
 * Shared set-up for the governance suite (issue #8, "a verdict that cannot be gamed"): run one
 * real task through the real lifecycle with a scripted attacker, then prove the attack did not
 * pay — the task ended FAILED, nothing reached the target repository, and the reason is named
 * both in the snapshot and in the signed verdict's evidence.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { eq } from 'drizzle-orm';
import { parse, stringify } from 'yaml';
import { storeSpec } from '../../activities/spec-refs';
import { taskSpecArtifactId } from '../../domain/activity-io';
import { validateWorkingSpec } from '../../domain/spec';
import { agentStats } from '../../db/schema';
import type { ScriptedStep } from '../../domain/agent';
import type { DeliverChangeInput, DiffSummary, IssueVerdictInput, PolicyProvenance } from '../../domain/activity-io';
import type { GateResult, TaskInput, TaskSnapshot } from '../../domain/task';
import { ARBITER_EVIDENCE_FIELD } from '../../domain/vsa';
import { arbiter, cliEnv } from '../helpers/cli';
import { addScriptedAgent, gitIn, makeRepo, registerRepo, specYaml, tempDir, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { recordRouted, runToEnd } from '../helpers/tasks';
import { saveGateResults } from '../../db/gate-results';
import { storeRunPolicy } from '../../db/run-policies';
import { RESERVED_GATE_NAMES } from '../../domain/gate-names';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';

/** The verdict statement's predicate, as `arbiter verdict show --json` prints it. */
export interface VerdictPayloadView {
  schema: string;
  outcome: string;
  tenantId: string;
  taskId: string;
  run: { workflowId: string; runId: string };
  policy: { source: string; digest: string; file: string | null; ref: string; commit: string };
  baseCommit: string;
  diff: { treeId: string; filesChanged: number; linesAdded: number };
  gates: Array<Omit<GateResult, 'outputTail'>>;
}

/** One finished task and where it ran. */
export interface TaskRunResult {
  final: TaskSnapshot;
  input: TaskInput & { tenantId: string; taskId: string };
  repo: string;
  tenant: string;
  /** The target's HEAD commit before the task started. */
  headBefore: string;
}

/** A task to play: the target repository, the attacker's plan and the submitter's input. */
export interface Attack {
  /** Files of a fresh target repo (committed on `main`); ignored when `repo` is given. */
  files?: Record<string, string>;
  repo?: string;
  steps: ScriptedStep[];
  /** Overrides merged into the default (tier 3, scope src/) working spec. */
  spec?: Record<string, unknown>;
  gates?: TaskInput['gates'];
  baseRef?: string;
  tenant?: string;
}

/** Commits what `change` does to `repo` on a new branch `name`, back on `back` after; the commit. */
export function branchWith(repo: string, name: string, back: string, change: (repo: string) => void): string {
  gitIn(repo, 'checkout', '--quiet', '-b', name);
  change(repo);
  gitIn(repo, 'add', '--all');
  gitIn(repo, 'commit', '--quiet', '--allow-empty', '-m', `${name}`);
  const commit = gitIn(repo, 'rev-parse', 'HEAD');
  gitIn(repo, 'checkout', '--quiet', back);
  return commit;
}

/** A `run` step: a program run by the agent inside the sandbox (argv, no shell). */
export function runStep(argv: string[], timeoutSeconds = 60): ScriptedStep {
  return { op: 'run', argv, timeoutSeconds };
}

/** A `run` step executing `code` with `node -e` in the agent's workspace (scripted plans get no shell). */
export function nodeStep(code: string): ScriptedStep {
  return runStep(['node', '-e', code]);
}

/** A `node -e` step writing each file (parents created), i.e. a command, not the file tools. */
export function writeByCommand(files: Record<string, string>): ScriptedStep {
  return nodeStep(
    `const fs = require('fs'), path = require('path'); const files = ${JSON.stringify(files)};` +
      'for (const [f, c] of Object.entries(files)) { fs.mkdirSync(path.dirname(f), { recursive: true }); fs.writeFileSync(f, c); }',
  );
}

/** A `.caws/policy.yaml` text. */
export function policyYaml(policy: Record<string, unknown>): string {
  return stringify({ version: 1, ...policy });
}

/** `sha256:<hex>` of the exact bytes, as the verdict names a policy file. */
export function sha256(text: string | Buffer): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** Tenant, scripted agent, task input: submits it and follows it to its terminal state. */
export async function runTask(attack: Attack): Promise<TaskRunResult> {
  const tenant = attack.tenant ?? uniqueId('gov');
  await addScriptedAgent(tenant, attack.steps);
  const repo = attack.repo ?? makeRepo(attack.files);
  const headBefore = gitIn(repo, 'rev-parse', 'HEAD');
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(attack.spec ?? {}),
    repo: await registerRepo(tenant, repo),
    ...(attack.gates ? { gates: attack.gates } : {}),
    ...(attack.baseRef ? { baseRef: attack.baseRef } : {}),
  };
  const final = await runToEnd(input);
  return { final, input, repo, tenant, headBefore };
}

/** The snapshot in short, for assertion messages. */
export function explain(final: TaskSnapshot): string {
  return JSON.stringify(
    {
      state: final.state,
      error: final.error,
      gates: final.gates.map((g) => ({ name: g.name, status: g.status, source: g.source, detail: g.detail })),
    },
    null,
    1,
  );
}

/** The gate called `name`; fails the test naming every gate when there is none. */
export function gateOf(final: TaskSnapshot, name: string): GateResult {
  const gate = final.gates.find((g) => g.name === name);
  assert.ok(gate, `no gate '${name}' in the snapshot:\n${explain(final)}`);
  return gate;
}

/** A spec file on disk, for the CLI. */
export function specFile(yaml: string): string {
  const file = path.join(tempDir('arbiter-gov-spec-'), 'spec.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** The signed verdict's payload (the summary's evidence), read the way an auditor would: `arbiter verdict show --json`. */
export async function verdictPayload(tenant: string, taskId: string): Promise<VerdictPayloadView> {
  const shown = await arbiter(['verdict', 'show', taskId, '--tenant', tenant, '--json'], cliEnv());
  assert.equal(shown.code, 0, `arbiter verdict show failed: ${shown.stderr}`);
  const parsed = JSON.parse(shown.stdout) as { outcome: string; statement: { predicate: Record<string, unknown> } };
  const evidence = parsed.statement.predicate[ARBITER_EVIDENCE_FIELD] as VerdictPayloadView;
  assert.equal(evidence.outcome, parsed.outcome, 'the stored outcome is the signed one');
  return evidence;
}

/** True when `ref` resolves in `repo`. */
export function refExists(repo: string, ref: string): boolean {
  return spawnSync('git', ['-C', repo, 'rev-parse', '--verify', '--quiet', ref], { encoding: 'utf8' }).status === 0;
}

/** Nothing was delivered: no `arbiter/<taskId>` branch (nor any arbiter branch), HEAD and the checkout untouched. */
export function assertNotDelivered(r: TaskRunResult): void {
  assert.equal(r.final.delivery, null, `a delivery was recorded: ${JSON.stringify(r.final.delivery)}`);
  assert.equal(
    refExists(r.repo, `refs/heads/arbiter/${r.input.taskId}`),
    false,
    `branch arbiter/${r.input.taskId} exists: the change was delivered`,
  );
  assert.equal(
    gitIn(r.repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/arbiter/'),
    '',
    'no arbiter branch at all in the target',
  );
  assert.equal(gitIn(r.repo, 'rev-parse', 'HEAD'), r.headBefore, 'the target HEAD did not move');
  assert.equal(gitIn(r.repo, 'status', '--porcelain', '--ignored'), '', 'the target checkout is untouched');
}

/**
 * The attack failed for the named reason: the task is FAILED, gate `gateName` failed with a
 * detail matching `detail`, the FAIL verdict's payload carries that same gate evidence, and
 * nothing was delivered. Returns the gate and the payload for further checks.
 */
export async function assertFailedByGate(
  r: TaskRunResult,
  gateName: string,
  detail?: RegExp,
): Promise<{ gate: GateResult; payload: VerdictPayloadView }> {
  const { final } = r;
  assert.equal(final.state, 'FAILED', explain(final));
  const gate = gateOf(final, gateName);
  assert.equal(gate.status, 'fail', `gate ${gateName} must fail:\n${explain(final)}`);
  if (detail) assert.match(gate.detail, detail, `gate ${gateName}'s detail names the reason`);
  assert.equal(final.verdict?.outcome, 'FAIL', `a FAIL verdict is issued:\n${explain(final)}`);
  const payload = await verdictPayload(r.tenant, r.input.taskId);
  assert.equal(payload.outcome, 'FAIL');
  const signed = payload.gates.find((g) => g.name === gateName);
  assert.ok(signed, `the verdict's evidence has gate ${gateName}: ${JSON.stringify(payload.gates)}`);
  assert.equal(signed.status, 'fail');
  assert.equal(signed.detail, gate.detail, 'the verdict carries the same detail as the snapshot');
  assertNotDelivered(r);
  return { gate, payload };
}

/** Lines of the tree gate's detail naming files the agent left that the change does not contain. */
export function leftBehind(final: TaskSnapshot): string {
  const tree = gateOf(final, 'tree');
  const m = /left behind, not part of the change: (.*)/.exec(tree.detail);
  assert.ok(m, `the tree gate lists the left-behind files; its detail is '${tree.detail}'`);
  return m[1];
}

/** The tree gate's left-behind list, or undefined when it names none. */
export function leftBehindOrNone(final: TaskSnapshot): string | undefined {
  return /left behind, not part of the change: (.*)/.exec(gateOf(final, 'tree').detail)?.[1];
}

/** What a one-file change's signed verdict states, for tests that drive issueVerdict and deliverChange directly. */
function oneFileVerdict(f: {
  ref: { tenantId: string; taskId: string };
  repo: string;
  base: string;
  treeId: string;
  digest: string;
  artifactId: string;
  gateStatus?: 'pass' | 'fail';
  policy?: PolicyProvenance;
}): IssueVerdictInput {
  const status = f.gateStatus ?? 'pass';
  const diff: DiffSummary = {
    filesChanged: 1,
    linesAdded: 1,
    linesDeleted: 0,
    bytesAdded: 27,
    binaryFiles: 0,
    leftBehind: { count: 0, paths: [] },
    nestedRepositories: [],
    treeId: f.treeId,
    digest: f.digest,
    artifactId: f.artifactId,
  };
  return {
    ...f.ref,
    specId: 'TEST-001',
    specDigest: sha256('spec'),
    agentId: 'agent',
    baseCommit: f.base,
    diff,
    gates: [
      ...RESERVED_GATE_NAMES.map((name): GateResult => ({
        name,
        kind: name as GateResult['kind'],
        source: 'arbiter',
        status: 'pass',
        detail: `${name} pass`,
      })),
      { name: 'tests', kind: 'command', source: 'submitter', status, detail: `tests ${status}` },
    ],
    policy: f.policy ?? { source: 'default', digest: 'default', file: null, ref: 'refs/heads/main', commit: f.base },
    riskTier: 3,
    repo: f.repo,
  };
}

/**
 * The input of issueVerdict for a one-file change in `repoDir` (registered for the task's tenant),
 * with its gates stored as `runId`'s gate activities would have, the policy it names as the run's
 * `loadRepoPolicy` would have (the default policy, under that provenance), the spec as its
 * validation would have, and its routing to `agent`: for tests that drive it directly.
 */
export async function verdictToIssue(
  f: Omit<Parameters<typeof oneFileVerdict>[0], 'repo'> & { repoDir: string },
  runId: string,
): Promise<IssueVerdictInput> {
  const { repoDir, ...fields } = f;
  const verdictInput = oneFileVerdict({ ...fields, repo: await registerRepo(f.ref.tenantId, repoDir) });
  const { tenantId, taskId, diff, gates } = verdictInput;
  const { db } = testStack().database;
  await saveGateResults(db, { tenantId, taskId, runId, attempt: 1, treeId: diff.treeId }, gates);
  await recordRouted({ tenantId, taskId, runId });
  await storeRunPolicy(
    db,
    { tenantId, taskId, runId },
    { policy: DEFAULT_REPO_POLICY, provenance: verdictInput.policy },
    realpathSync(repoDir),
  );
  const validated = validateWorkingSpec(parse(specYaml()));
  assert.ok(validated.ok);
  await storeSpec(db, taskSpecArtifactId({ tenantId, taskId, runId }), { tenantId, taskId, runId }, validated.spec);
  return verdictInput;
}

/** The delivery a one-file verdict covers. */
export function deliveryFor(verdictInput: IssueVerdictInput, repo: string, verdictDigest: string): DeliverChangeInput {
  const { tenantId, taskId, baseCommit, diff } = verdictInput;
  return {
    tenantId,
    taskId,
    repo: verdictInput.repo,
    repoPath: repo,
    baseCommit,
    treeId: diff.treeId,
    artifactId: diff.artifactId,
    patchDigest: diff.digest,
    specId: 'TEST-001',
    verdictDigest,
    deliveredAt: new Date().toISOString(),
  };
}

/** The tenant's agent statistics as [tasks, failures], one pair per agent and context. */
export async function tasksAndFailures(tenant: string): Promise<number[][]> {
  const stats = await testStack().database.db.select().from(agentStats).where(eq(agentStats.tenantId, tenant));
  return stats.map((s) => [s.tasks, s.failures]);
}
