/**
 * Attack: an insider handing the judging steps a laxer policy than the repository's. Anyone who
 * may write to the namespace can complete `loadRepoPolicy` by hand with a policy object of their
 * choosing, or run workflow code of their own that schedules Arbiter's activities: the budget and
 * protected paths judged by a policy without them, the policy's test command run as `true` or in
 * `skip` mode, or never run, a waiver stored where the policy allows none. Every step that judges
 * by the policy now reads the one its run's `loadRepoPolicy` stored on a worker.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ActivityCancellationDetails, ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { storeSpec, validatedSpec } from '../../activities/spec-refs';
import { eq } from 'drizzle-orm';
import { gateClaims, runPolicies } from '../../db/schema';
import type {
  DiffSummary,
  IssuedVerdict,
  PolicyProvenance,
  PreparedWorkspace,
  TrustedPolicy,
  ValidateSpecResult,
} from '../../domain/activity-io';
import type { SignedDecision } from '../../domain/approval';
import type { GateRun } from '../../domain/policy-gates';
import { DEFAULT_REPO_POLICY, type GateMode } from '../../domain/repo-policy';
import type { GateResult } from '../../domain/task';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { gitIn, makeRepo, registeredPath, registerRepo, specYaml, tempDir, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { recordRouted } from '../helpers/tasks';
import { waitFor } from '../helpers/wait';
import { policyYaml } from './helpers';

const TESTS = ['node', 'test/check.js'];
const SPEC = specYaml({ scope: { in: ['src/', 'test/'], out: [] } });
const POLICY = {
  gates: { tests: { mode: 'block', command: TESTS } },
  arbiter: { protected: ['test/'] },
  waivers: { min_approvers_for_budget_raise: 2 },
};

/** An assert.rejects check: an ApplicationFailure of `type` whose message matches `pattern`. */
const refusedAs = (type: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, type, err.message);
  assert.match(err.message, pattern);
  return true;
};

/** A run of the task `ref`, as the server reports it to the activities it schedules. */
function runOf(ref: TaskRef) {
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
async function insiderRun(policy: Record<string, unknown> = POLICY, options: { readPolicy?: boolean | 'lax' } = {}) {
  const ref: TaskRef = { tenantId: uniqueId('insider'), taskId: uniqueId('task') };
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
  const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: SPEC });
  // Built from the commit the lax repository's policy was read at, the base has no drift to judge.
  const base = options.readPolicy === 'lax' ? { baseRef: 'HEAD~1' } : {};
  const ws: PreparedWorkspace = await env.run(a.prepareWorkspace, { ...ref, repoPath, ...base });
  writeFileSync(path.join(ws.workspacePath, 'test', 'check.js'), 'process.exit(0);\n');
  const at = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
  const diff: DiffSummary = await env.run(a.measureDiff, at);
  assert.ok(validated.specRef, 'the spec is stored by reference');
  return { ref, runId, env, a, repo, repoPath, trusted, validated, ws, at, diff };
}

type Run = Awaited<ReturnType<typeof insiderRun>>;

/** Another activity of `r`'s run, under its own activity id (or an `attempt` of one). */
function activityOf(r: Run, activityId: string, attempt = 1) {
  return new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(r.ref), runId: r.runId }, activityId, attempt },
    { logger: SILENT_LOGGER },
  );
}

/** A waiver id of the desk's shape, fresh for each test. */
const newWaiverId = () => `WV-${Math.floor(Math.random() * 9000) + 1000}`;

/** `storeWaiver` in `r`'s run: its one budget waiver, as the desk stores it after `approval` by alice. */
function storeWaiverOf(
  r: Run,
  approval: SignedDecision,
  keyId: string,
  waiverId: string,
  expiresAt = approval.claim.expiresAt,
) {
  return r.env.run(r.a.storeWaiver, {
    ...r.ref,
    waiverId,
    specId: 'TEST-001',
    gates: ['budget'],
    delta: approval.claim.delta,
    reasonCode: 'architectural_refactor',
    approvals: [approval],
    approvers: [{ approver: 'alice', keyId, at: new Date().toISOString() }],
    expiresAt,
    budgetDetail: 'waived',
    riskTier: 3,
  });
}

/** `checkBudgetAndScope` handed the default policy: no protected paths, no gates. */
function laxCheck(r: Run): Promise<GateResult[]> {
  return r.env.run(r.a.checkBudgetAndScope, {
    ...r.at,
    treeId: r.diff.treeId,
    spec: r.validated.specRef!,
    policy: DEFAULT_REPO_POLICY,
    trustedCommit: r.ws.baseCommit,
  });
}

/** Arbiter's gates judged by the default policy, all passing, and a submitter's `tests` that runs `true`. */
async function passingLaxGates(r: Run): Promise<GateResult[]> {
  const checked = await laxCheck(r);
  assert.ok(
    checked.every((g) => g.status === 'pass'),
    JSON.stringify(checked),
  );
  return [...checked, await gate(r, 'tests', ['true'], 'submitter')];
}

/** `runGate` for a gate named `name` running `argv`, as `source` asks, in `mode`. */
function gate(r: Run, name: string, argv: string[], source: GateRun['source'] = 'policy', mode: GateMode = 'block') {
  const run = { ...r.at, treeId: r.diff.treeId, gate: { name, argv, timeoutSeconds: 60 }, source, mode };
  return r.env.run(r.a.runGate, run) as Promise<GateResult>;
}

/** A verdict over `r`'s measured change with `gates`, naming the policy `r` read. */
function verdictOf(r: Run, gates: GateResult[], policy: PolicyProvenance = r.trusted!.provenance) {
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
    verifiedAt: new Date().toISOString(),
    repo: r.repo,
  };
}

describe('governance: steps judge by the policy their run read', function () {
  this.timeout(120_000);

  it('checkBudgetAndScope handed a policy without protected paths still fails the rewritten harness', async () => {
    const r = await insiderRun();
    const gates = await laxCheck(r);
    const protectedGate = gates.find((g) => g.name === 'protected');
    assert.equal(protectedGate?.status, 'fail', JSON.stringify(gates));
    assert.match(protectedGate.detail, /test\/check\.js/);
  });

  it('checkBudgetAndScope judges only by the spec the run validated, not another spec the run stored', async () => {
    const r = await insiderRun();
    const { db } = testStack().database;
    const owner = { ...r.ref, runId: r.runId };
    const spec = (await validatedSpec(db, owner))!;
    const other = await storeSpec(db, `spec/${r.ref.tenantId}/${r.ref.taskId}/${r.runId}/1`, owner, spec);
    const check = {
      ...r.at,
      treeId: r.diff.treeId,
      spec: other,
      policy: DEFAULT_REPO_POLICY,
      trustedCommit: r.ws.baseCommit,
    };
    await assert.rejects(
      r.env.run(r.a.checkBudgetAndScope, check),
      refusedAs('RecordMismatchError', /only the spec this run validated \(spec\/.*\) is judged by/),
    );
  });

  it("runGate refuses the policy's command with another argv, in skip mode, or under another source", async () => {
    const r = await insiderRun();
    await assert.rejects(gate(r, 'tests', ['true']), refusedAs('PolicyMismatchError', /the policy's command is/));
    await assert.rejects(
      gate(r, 'tests', TESTS, 'policy', 'skip'),
      refusedAs('PolicyMismatchError', /mode skip; the policy gives it block/),
    );
    await assert.rejects(
      gate(r, 'TESTS', ['true'], 'submitter'),
      refusedAs('PolicyMismatchError', /has the name of the policy's command tests/),
    );
    await assert.rejects(gate(r, 'lint', ['true']), refusedAs('PolicyMismatchError', /not a command of the policy/));
    await assert.rejects(
      gate(r, 'budget', ['true'], 'submitter'),
      refusedAs('PolicyMismatchError', /gate budget \(submitter\) has the name of Arbiter's own gate/),
    );
    await assert.rejects(
      gate(r, 'acceptance-A1', ['true'], 'submitter'),
      refusedAs('PolicyMismatchError', /only the spec's acceptance gates are named acceptance-\*/),
    );
    const elsewhere = { ...r, at: { ...r.at, workspacePath: '/var/lib/arbiter/workspaces/other/task/tree' } };
    await assert.rejects(gate(elsewhere, 'tests', TESTS), refusedAs('RecordMismatchError', /is not task .*'s/));
    const honest = await gate(r, 'tests', TESTS);
    assert.equal(honest.status, 'pass', 'the agent rewrote the check; the protected gate is what fails it');
  });

  it('runGate: a check that failed on a change fails it from then on, whatever argv or attempt asks again', async () => {
    const r = await insiderRun();
    const failing = await gate(r, 'check', ['node', '-e', 'process.exit(1)'], 'submitter');
    assert.equal(failing.status, 'fail');
    const again = await gate(r, 'check', ['true'], 'submitter');
    assert.equal(again.status, 'fail', 'run again with an argv that passes, the check still fails the change');
    assert.match(again.detail, new RegExp(`failed on this change in attempt 1 of run ${r.runId}; a failure stands`));
    const other = await gate(r, 'other', ['true'], 'submitter');
    assert.equal(other.status, 'pass', 'another check on the same change runs');
  });

  it('runGate runs a check on a change once at a time: another activity waits, then gets its failure', async () => {
    const r = await insiderRun();
    const slowFail = ['node', '-e', 'setTimeout(() => process.exit(1), 10000)'];
    const first = gate({ ...r, env: activityOf(r, 'check-1') }, 'check', slowFail, 'submitter');
    const { db } = testStack().database;
    const claimed = () => db.select().from(gateClaims).where(eq(gateClaims.taskId, r.ref.taskId));
    await waitFor('the first run to claim the check', async () => (await claimed()).length > 0);
    await assert.rejects(
      gate({ ...r, env: activityOf(r, 'check-2') }, 'check', ['true'], 'submitter'),
      refusedAs('GateRunUnderWayError', new RegExp(`gate check is already running on tree ${r.diff.treeId}`)),
    );
    assert.equal((await first).status, 'fail');
    assert.deepEqual(await claimed(), [], 'the claim is given up when the check ends');
    const again = await gate({ ...r, env: activityOf(r, 'check-2') }, 'check', ['true'], 'submitter');
    assert.equal(again.status, 'fail', 'retried, the second activity returns the stored failure');
  });

  it('runGate: an attempt Temporal gave up on runs its check to the end; a cancelled check fails the change', async () => {
    const r = await insiderRun();
    const { db } = testStack().database;
    const claimed = () => db.select().from(gateClaims).where(eq(gateClaims.taskId, r.ref.taskId));
    const slowFail = ['node', '-e', 'setTimeout(() => process.exit(1), 3000)'];
    // Failed by hand (`temporal activity fail`): the attempt learns it at its next heartbeat.
    const abandoned = activityOf(r, 'abandoned');
    const first = gate({ ...r, env: abandoned }, 'slow', slowFail, 'submitter');
    await waitFor('the check to be claimed', async () => (await claimed()).length > 0);
    abandoned.cancel('NOT_FOUND', new ActivityCancellationDetails({ notFound: true }));
    const retried = gate({ ...r, env: activityOf(r, 'abandoned', 2) }, 'slow', ['true'], 'submitter');
    const ended = await first;
    assert.equal(ended.status, 'fail', 'the check ran to its end and its failure stands');
    assert.match(ended.detail, /exit code 1/);
    const next = await retried;
    assert.equal(next.status, 'fail', "the next attempt waited for the earlier one's result, not spending its retries");
    assert.match(next.detail, /a failure stands/);
    // Cancelled by its workflow: killed, and stored as a failure on the change.
    const cancelled = activityOf(r, 'cancelled');
    const second = gate({ ...r, env: cancelled }, 'hangs', ['node', '-e', 'setTimeout(() => {}, 60000)'], 'submitter');
    await waitFor('the second check to be claimed', async () => (await claimed()).length > 0);
    cancelled.cancel('CANCELLED');
    await assert.rejects(second, (err: Error) => err.name === 'CancelledFailure');
    const again = await gate({ ...r, env: activityOf(r, 'again') }, 'hangs', ['true'], 'submitter');
    assert.equal(again.status, 'fail', 'run again, the check returns the failure its cancelled run stored');
    assert.match(again.detail, /a failure stands/);
  });

  it('a run whose loadRepoPolicy never ran on a worker is refused at every judging step', async () => {
    const r = await insiderRun(POLICY, { readPolicy: false });
    const never = /no policy was read for run .* \(its loadRepoPolicy never ran on a worker\)/;
    await assert.rejects(laxCheck(r), refusedAs('PolicyMismatchError', never));
    await assert.rejects(gate(r, 'tests', TESTS), refusedAs('PolicyMismatchError', never));
  });

  it('the run holding a task open across the upgrade keeps the policy it is handed; no other run of it does', async () => {
    const r = await insiderRun(POLICY, { readPolicy: false });
    await testStack()
      .database.db.insert(runPolicies)
      .values({ ...r.ref, runId: r.runId });
    const gates = await laxCheck(r);
    assert.equal(gates.find((g) => g.name === 'protected')?.status, 'pass');
    const other = { ...r, env: runOf(r.ref).env };
    await assert.rejects(
      gate(other, 'tests', ['true']),
      refusedAs('PolicyMismatchError', /its loadRepoPolicy never ran/),
    );
  });

  it("installDependencies refuses a setup other than the policy's", async () => {
    const r = await insiderRun({
      ...POLICY,
      arbiter: { setup: { command: ['npm', 'ci'], outputs: ['node_modules'] } },
    });
    const setup = {
      argv: ['sh', '-c', 'mkdir node_modules'],
      outputs: ['node_modules'],
      registries: [],
      timeoutSeconds: 60,
    };
    await assert.rejects(
      r.env.run(r.a.installDependencies, { ...r.at, setup }),
      refusedAs('PolicyMismatchError', /setup \["sh","-c","mkdir node_modules"\] is not the policy's setup/),
    );
    const honest = r.env.run(r.a.installDependencies, { ...r.at, setup: r.trusted!.policy.setup! });
    await assert.rejects(honest, (err: unknown) => (err as ApplicationFailure).type === 'SetupFailedError');
  });

  it("issueVerdict refuses a verdict without the policy's command, without Arbiter's gates, or naming another policy", async () => {
    const r = await insiderRun();
    const checked = await laxCheck(r);
    const tests = await gate(r, 'tests', TESTS);
    const verdict = verdictOf(r, [...checked.map((g) => ({ ...g, status: 'pass' as const })), tests]);
    const issue = (changes: object) => r.env.run(r.a.issueVerdict, { ...verdict, ...changes });
    await assert.rejects(
      issue({ gates: verdict.gates.filter((g) => g.name !== 'tests') }),
      refusedAs('PolicyMismatchError', /gate tests: the policy's command did not run/),
    );
    await assert.rejects(
      issue({ gates: [tests] }),
      refusedAs('PolicyMismatchError', /gate budget: Arbiter's own gate did not judge the change.*gate tree:/),
    );
    await assert.rejects(
      issue({ policy: { ...verdict.policy, digest: 'default', file: null, source: 'default' } }),
      refusedAs('PolicyMismatchError', /the verdict names default at .*, the run read sha256:/),
    );
    await assert.rejects(
      issue({ baseCommit: '0'.repeat(40) }),
      refusedAs(
        'RecordMismatchError',
        new RegExp(`is the change from ${r.ws.baseCommit} to tree ${r.diff.treeId}, not from 0{40}`),
      ),
    );
    await assert.rejects(
      issue({ diff: { ...r.diff, digest: `sha256:${'0'.repeat(64)}` } }),
      refusedAs('RecordMismatchError', /is not a patch the task .* stored with that digest/),
    );
    await assert.rejects(
      issue({ adoptedFrom: { index: 1, runId: 'run-made-up' } }),
      refusedAs(
        'RecordMismatchError',
        /the judged run run-made-up of .*\.candidate-1 did not validate the task's spec/,
      ),
    );
    await assert.rejects(
      issue({ specDigest: `sha256:${'0'.repeat(64)}` }),
      refusedAs(
        'RecordMismatchError',
        new RegExp(`the verdict names spec text sha256:0{64}; the run validated ${r.validated.specDigest}`),
      ),
    );
    await assert.rejects(
      issue({ riskTier: 1 }),
      refusedAs('RecordMismatchError', /the verdict names TEST-001 at tier 1; the run validated TEST-001 at tier 3/),
    );
  });

  // The subject is the patch, the gates judged the tree: another attempt's patch, one a gate failed, was signed PASS.
  it("issueVerdict refuses a patch that is not the judged tree's change from the verdict's base, or an agent never routed", async () => {
    const r = await insiderRun({});
    const first = r.diff;
    writeFileSync(path.join(r.ws.workspacePath, 'src', 'app.js'), 'module.exports = 2;\n');
    const second: DiffSummary = await r.env.run(r.a.measureDiff, { ...r.at, attempt: 2 });
    const judged = { ...r, diff: second };
    const gates = await laxCheck(judged);
    const verdict = verdictOf(judged, gates);
    await assert.rejects(
      r.env.run(r.a.issueVerdict, {
        ...verdict,
        diff: { ...second, artifactId: first.artifactId, digest: first.digest },
      }),
      refusedAs(
        'RecordMismatchError',
        new RegExp(
          `is the change from ${r.ws.baseCommit} to tree ${first.treeId}, not from ${r.ws.baseCommit} to ${second.treeId}`,
        ),
      ),
    );
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdict, agentId: 'someone-else' }),
      refusedAs('RecordMismatchError', /was routed to agent 'agent', not 'someone-else'/),
    );
    // Another run of the task routed elsewhere: its agent did not make this run's change.
    await recordRouted({ ...r.ref, runId: uniqueId('run') }, 'another-runs-agent');
    await assert.rejects(
      r.env.run(r.a.issueVerdict, { ...verdict, agentId: 'another-runs-agent' }),
      refusedAs('RecordMismatchError', /was routed to agent 'agent', not 'another-runs-agent'/),
    );
    const honest: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdict);
    assert.equal(honest.outcome, 'PASS');
  });

  // Storing a waiver passes its tree's budget rows for every run: a run that took the task over signed the waived change as PASS.
  it('issueVerdict refuses, in a run that took the task over, a change whose budget a waiver passed for another run', async () => {
    const r = await insiderRun({ waivers: { min_approvers_for_budget_raise: 1 } });
    const gates = await laxCheck(r);
    const alice = await registeredApprover(r.ref.tenantId, 'alice');
    const pending = {
      ...PENDING_WAIVER,
      runId: r.runId,
      specId: 'TEST-001',
      treeId: r.diff.treeId,
      patchDigest: r.diff.digest,
    };
    const approval = await signedApproval(r.ref, pending, alice);
    const waiverId = newWaiverId();
    await storeWaiverOf(r, approval, alice.keyId, waiverId);
    const { env } = runOf(r.ref);
    await env.run(r.a.loadRepoPolicy, { ...r.ref, repoPath: r.repoPath });
    await env.run(r.a.validateSpec, { ...r.ref, specYaml: SPEC });
    await assert.rejects(
      env.run(r.a.issueVerdict, verdictOf(r, gates)),
      refusedAs(
        'RecordMismatchError',
        new RegExp(`${waiverId} \\(run ${r.runId}\\) waived this change's budget for another run`),
      ),
    );
    const own: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, gates));
    assert.equal(own.outcome, 'WAIVED', 'the run the waiver was approved for signs it as waived');
  });

  it("issueVerdict refuses gate results stored by an earlier run that read another repository's policy", async () => {
    const earlier = await insiderRun(POLICY, { readPolicy: 'lax' });
    const checked = await laxCheck(earlier);
    const tests = await gate(earlier, 'tests', ['true'], 'submitter');
    const { env } = runOf(earlier.ref);
    const trusted: TrustedPolicy = await env.run(earlier.a.loadRepoPolicy, {
      ...earlier.ref,
      repoPath: earlier.repoPath,
    });
    await env.run(earlier.a.validateSpec, { ...earlier.ref, specYaml: SPEC });
    const verdict = verdictOf(earlier, [...checked.map((g) => ({ ...g, status: 'pass' as const })), tests]);
    await assert.rejects(
      env.run(earlier.a.issueVerdict, { ...verdict, policy: trusted.provenance }),
      refusedAs(
        'RecordMismatchError',
        new RegExp(`gate budget: no result of it was stored for tree ${earlier.diff.treeId}`),
      ),
    );
  });

  it("issueVerdict refuses a verdict judged by another repository's policy whose commit this one's history holds", async () => {
    // Delivery would take it: the policy commit is on the trusted ref, and holds no policy file there either.
    const r = await insiderRun(POLICY, { readPolicy: 'lax' });
    assert.equal(r.trusted!.provenance.source, 'default', 'the run read the lax repository, which has no policy');
    const gates = await passingLaxGates(r);
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, gates)),
      refusedAs(
        'PolicyMismatchError',
        new RegExp(`the verdict names repository ${r.repo} \\(${r.repoPath}\\), the run read the policy of /`),
      ),
    );
  });

  it("issueVerdict refuses a run borrowing another run's policy read that names no repository (stored before 0020)", async () => {
    const r = await insiderRun(POLICY, { readPolicy: false });
    const policy: PolicyProvenance = {
      source: 'default',
      digest: 'default',
      file: null,
      ref: 'refs/heads/main',
      commit: r.ws.baseCommit,
    };
    await testStack()
      .database.db.insert(runPolicies)
      .values({ ...r.ref, runId: uniqueId('run'), policy: DEFAULT_REPO_POLICY, provenance: policy });
    const gates = await passingLaxGates(r);
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, gates, policy)),
      refusedAs('PolicyMismatchError', /the run borrows a policy read that names no repository/),
    );
  });

  it("storeWaiver refuses a waiver the policy does not allow, approved by fewer than its quorum, for another run's request, or too long", async () => {
    const late = new Date(Date.now() + 400 * 86_400_000).toISOString();
    const elsewhere = /the approval by alice is for task .* run run-elsewhere tree .*, not this run's request/;
    for (const [policy, refusal, approvedRun, expiresAt] of [
      [{ gates: POLICY.gates }, /the repository's policy has no waivers section/, undefined, undefined],
      [POLICY, /carries 1 valid signed approval\(s\); tier 3 needs 2/, undefined, undefined],
      [POLICY, elsewhere, 'run-elsewhere', undefined],
      [POLICY, /it expires .*, past the policy's \d+ days/, undefined, late],
    ] as const) {
      const r = await insiderRun(policy);
      const alice = await registeredApprover(r.ref.tenantId, 'alice');
      const pending = { ...PENDING_WAIVER, runId: approvedRun ?? r.runId, specId: 'TEST-001', treeId: r.diff.treeId };
      const approval = await signedApproval(r.ref, pending, alice);
      const store = storeWaiverOf(r, approval, alice.keyId, newWaiverId(), expiresAt ?? approval.claim.expiresAt);
      await assert.rejects(store, refusedAs('WaiverNotAuthorizedError', refusal));
    }
  });
});
