/**
 * One run of a task driven step by step as an insider's workflow of its own would drive it:
 * Arbiter's activities scheduled in a mock environment naming the run, on a real repository,
 * database and sandbox, so each judging step can be handed what the insider chooses.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type {
  DiffSummary,
  PolicyProvenance,
  PreparedWorkspace,
  TrustedPolicy,
  ValidateSpecResult,
} from '../../domain/activity-io';
import type { SignedDecision } from '../../domain/approval';
import type { GateRun } from '../../domain/policy-gates';
import { DEFAULT_REPO_POLICY, type GateMode } from '../../domain/repo-policy';
import type { AttemptRecord, GateResult } from '../../domain/task';
import { effectiveBudget } from '../../domain/policy';
import { grantedTerms, taskWaiverId, waivedBudgetDetail } from '../../domain/waiver';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { gitIn, makeRepo, registeredPath, registerRepo, specYaml, tempDir, uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';
import { recordRouted } from '../helpers/tasks';
import { policyYaml } from './helpers';

export const TESTS = ['node', 'test/check.js'];
export const SPEC = specYaml({ scope: { in: ['src/', 'test/'], out: [] } });
export const POLICY = {
  gates: { tests: { mode: 'block', command: TESTS } },
  arbiter: { protected: ['test/'] },
  waivers: { min_approvers_for_budget_raise: 2 },
};

/** An assert.rejects check: an ApplicationFailure of `type` whose message matches `pattern`. */
export const refusedAs = (type: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, type, err.message);
  assert.match(err.message, pattern);
  return true;
};

/** A run of the task `ref`, as the server reports it to the activities it schedules. */
export function runOf(ref: TaskRef) {
  const runId = uniqueId('run');
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId } },
    { logger: SILENT_LOGGER },
  );
  return { runId, env };
}

/**
 * One run of a task on a repository with POLICY (or `policy`), driven step by step as a workflow of
 * one's own would: its policy read (or, with `readPolicy: 'lax'`, that of another of the tenant's
 * repositories, which has none and whose commit the first one's history holds: the first one
 * without its policy, and the workspace built from that commit; with `false`, none), its spec
 * validated, the agent's rewrite of the repository's check measured.
 */
export async function insiderRun(
  policy: Record<string, unknown> = POLICY,
  options: { readPolicy?: boolean | 'lax'; spec?: string; taskId?: string } = {},
) {
  const ref: TaskRef = { tenantId: uniqueId('insider'), taskId: options.taskId ?? uniqueId('task') };
  const { runId, env } = runOf(ref);
  const a = createActivities(testActivityDeps());
  await recordRouted({ ...ref, runId });
  const files = { 'src/app.js': 'module.exports = 1;\n', 'test/check.js': 'process.exit(1);\n' };
  const lax = makeRepo(files);
  const dir = tempDir('arbiter-target-');
  gitIn(dir, 'clone', '--quiet', lax, '.');
  mkdirSync(path.join(dir, '.caws'));
  writeFileSync(path.join(dir, '.caws', 'policy.yaml'), policyYaml(policy));
  gitIn(dir, 'add', '--all');
  gitIn(dir, 'commit', '--quiet', '-m', 'policy');
  const repo = await registerRepo(ref.tenantId, dir);
  const repoPath = realpathSync(dir);
  const read = options.readPolicy === 'lax' ? await registeredPath(ref.tenantId, lax) : repoPath;
  const trusted: TrustedPolicy | undefined =
    options.readPolicy === false ? undefined : await env.run(a.loadRepoPolicy, { ...ref, repoPath: read });
  const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: options.spec ?? SPEC });
  // Built from the commit the lax repository's policy was read at, the base has no drift to judge.
  const base = options.readPolicy === 'lax' ? { baseRef: 'HEAD~1' } : {};
  const ws: PreparedWorkspace = await env.run(a.prepareWorkspace, { ...ref, repoPath, ...base });
  writeFileSync(path.join(ws.workspacePath, 'test', 'check.js'), 'process.exit(0);\n');
  const at = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
  const diff: DiffSummary = await env.run(a.measureDiff, at);
  assert.ok(validated.specRef, 'the spec is stored by reference');
  return { ref, runId, env, a, repo, repoPath, trusted, validated, ws, at, diff };
}

/** One run of {@link insiderRun}. */
export type Run = Awaited<ReturnType<typeof insiderRun>>;

/** Another activity of `r`'s run, under its own activity id (or an `attempt` of one). */
export function activityOf(r: Run, activityId: string, attempt = 1) {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(r.ref), runId: r.runId }, activityId, attempt },
    { logger: SILENT_LOGGER },
  );
}

/** The id `r`'s task stores its waiver under (storeWaiver takes no other). */
export const newWaiverId = (r: { ref: TaskRef }) => taskWaiverId(r.ref.taskId);

/** The budget gate's words once `waiverId` with `delta` passes `r`'s change, as the desk states them. */
export function waivedDetailOf(r: Run, waiverId: string, delta = PENDING_WAIVER.delta): string {
  const { spec } = r.validated;
  const policy = r.trusted?.policy ?? DEFAULT_REPO_POLICY;
  const budget = effectiveBudget({ spec, tierBudgets: policy.tiers });
  return waivedBudgetDetail(
    r.diff,
    { ...budget, maxBytes: policy.tiers[spec.riskTier].maxBytes },
    { id: waiverId, delta },
  );
}

/**
 * `storeWaiver` in `r`'s run: its one budget waiver, as the desk stores it after `approval` by
 * alice, authorised and recorded first as the desk does (one another run's request names cannot be).
 */
export async function storeWaiverOf(r: Run, approval: SignedDecision, keyId: string, waiverId: string) {
  await r.env.run(r.a.authorizeWaiverDecision, { ...r.ref, riskTier: 3, signed: approval }).catch(() => undefined);
  return r.env.run(r.a.storeWaiver, {
    ...r.ref,
    waiverId,
    specId: 'TEST-001',
    gates: ['budget'],
    delta: approval.claim.delta,
    ...grantedTerms([approval]),
    approvals: [approval],
    approvers: [{ approver: approval.claim.approver, keyId, at: new Date().toISOString() }],
    budgetDetail: waivedDetailOf(r, waiverId, approval.claim.delta),
    riskTier: 3,
  });
}

/** `checkBudgetAndScope` handed the default policy: no protected paths, no gates. */
export function laxCheck(r: Run): Promise<GateResult[]> {
  return r.env.run(r.a.checkBudgetAndScope, {
    ...r.at,
    treeId: r.diff.treeId,
    spec: r.validated.specRef!,
    policy: DEFAULT_REPO_POLICY,
    trustedCommit: r.ws.baseCommit,
  });
}

/** `checkBudgetAndScope` as the workflow asks it: by the policy `r` read and the spec it validated. */
export function policyCheck(r: Run): Promise<GateResult[]> {
  return r.env.run(r.a.checkBudgetAndScope, {
    ...r.at,
    treeId: r.diff.treeId,
    spec: r.validated.specRef!,
    policy: r.trusted!.policy,
    trustedCommit: r.ws.baseCommit,
  });
}

/** Arbiter's gates judged by the default policy, all passing, and a submitter's `tests` that runs `true`. */
export async function passingLaxGates(r: Run): Promise<GateResult[]> {
  const checked = await laxCheck(r);
  assert.ok(
    checked.every((g) => g.status === 'pass'),
    JSON.stringify(checked),
  );
  return [...checked, await gate(r, 'tests', ['true'], 'submitter')];
}

/** `runGate` for a gate named `name` running `argv`, as `source` asks, in `mode`. */
export function gate(
  r: Run,
  name: string,
  argv: string[],
  source: GateRun['source'] = 'policy',
  mode: GateMode = 'block',
) {
  const run = { ...r.at, treeId: r.diff.treeId, gate: { name, argv, timeoutSeconds: 60 }, source, mode };
  return r.env.run(r.a.runGate, run) as Promise<GateResult>;
}

/**
 * `r`'s change as an earlier attempt of a verdict: attempt 1, its tests failed (a submitter's gate
 * running `false`, stored for its tree), so the task was retried.
 */
export async function failedFirstAttempt(r: Run): Promise<AttemptRecord> {
  const gates = [...(await laxCheck(r)), await gate(r, 'tests', ['false'], 'submitter')];
  const { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted } = r.diff;
  return {
    attempt: 1,
    summary: '',
    endedAt: new Date().toISOString(),
    diff: { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted },
    gates: gates.map(({ outputTail: _tail, ...g }) => g),
  };
}

/** `r`'s workspace changed again and measured as attempt 2: the run its retry makes. */
export async function secondAttempt(r: Run): Promise<Run> {
  writeFileSync(path.join(r.ws.workspacePath, 'src', 'app.js'), 'module.exports = 2;\n');
  const at = { ...r.at, attempt: 2 };
  return { ...r, at, diff: await r.env.run(r.a.measureDiff, at) };
}

/** A verdict over `r`'s measured change with `gates`, naming the policy `r` read. */
export function verdictOf(r: Run, gates: GateResult[], policy: PolicyProvenance = r.trusted!.provenance) {
  return {
    ...r.ref,
    specId: 'TEST-001',
    specDigest: r.validated.specDigest,
    agentId: 'agent',
    baseCommit: r.ws.baseCommit,
    diff: r.diff,
    gates,
    policy,
    riskTier: 3 as const,
    repo: r.repo,
  };
}

/**
 * An approval of `r`'s one budget waiver raising its change's budget by `delta`: alice's of the
 * measured patch, unless `as` names another approver or patch.
 */
export async function approvalOf(
  r: Run,
  delta = PENDING_WAIVER.delta,
  as: { approver?: string; patchDigest?: string } = {},
) {
  const approver = await registeredApprover(r.ref.tenantId, as.approver ?? 'alice');
  const pending = {
    ...PENDING_WAIVER,
    runId: r.runId,
    specId: 'TEST-001',
    treeId: r.diff.treeId,
    patchDigest: as.patchDigest ?? r.diff.digest,
    delta,
  };
  return { approval: await signedApproval(r.ref, pending, approver), keyId: approver.keyId };
}
