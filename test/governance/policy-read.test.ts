/**
 * Attack: an insider handing the judging steps a laxer policy than the repository's. Anyone who
 * may write to the namespace can complete `loadRepoPolicy` by hand with a policy object of their
 * choosing, or run workflow code of their own that schedules Arbiter's activities: the budget and
 * protected paths judged by a policy without them, the policy's test command run as `true` or in
 * `skip` mode, or never run, a waiver stored where the policy allows none. Every step that judges
 * by the policy now reads the one its run's `loadRepoPolicy` stored on a worker.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ActivityCancellationDetails, type ApplicationFailure } from '@temporalio/common';
import { storeSpec, validatedSpec } from '../../activities/spec-refs';
import { eq } from 'drizzle-orm';
import { gateClaims, runPolicies } from '../../db/schema';
import type { IssuedVerdict, PolicyProvenance, TrustedPolicy } from '../../domain/activity-io';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { dependenciesDirOf } from '../../host/sandbox/dependency-mounts';
import { gitDirOf } from '../../host/git';
import { gitIn, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { recordRouted } from '../helpers/tasks';
import { waitFor } from '../helpers/wait';
import {
  activityOf,
  approvalOf,
  failedFirstAttempt,
  gate,
  insiderRun,
  laxCheck,
  newWaiverId,
  passingLaxGates,
  policyCheck,
  POLICY,
  refusedAs,
  runOf,
  secondAttempt,
  SPEC,
  storeWaiverOf,
  waivedDetailOf,
  TESTS,
  verdictOf,
} from './insider-run';

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

  // Before: a step naming another commit ran setup again, in the live tree holding the agent's files.
  it("installDependencies runs only at the base the workspace was built from, on the base's files", async () => {
    const r = await insiderRun({
      ...POLICY,
      arbiter: { setup: { command: ['sh', '-c', 'mkdir -p out && cp src/app.js out/'], outputs: ['out'] } },
    });
    writeFileSync(path.join(r.ws.workspacePath, 'src', 'app.js'), 'the agent wrote this\n');
    const setup = r.trusted!.policy.setup!;
    const earlier = gitIn(r.repoPath, 'rev-parse', 'HEAD~1');
    await assert.rejects(
      r.env.run(r.a.installDependencies, { ...r.at, baseCommit: earlier, setup }),
      refusedAs('WorkspaceBaseMismatchError', new RegExp(`built from ${r.ws.baseCommit}, not from ${earlier}`)),
    );
    // A workspace recording no base (an older release's, or one whose file was removed) is no exception.
    const recorded = path.join(gitDirOf(r.ws.workspacePath), 'arbiter-base');
    const base = readFileSync(recorded, 'utf8');
    rmSync(recorded);
    try {
      await assert.rejects(
        r.env.run(r.a.installDependencies, { ...r.at, baseCommit: earlier, setup }),
        refusedAs('WorkspaceBaseMismatchError', /the workspace records no commit it was built from/),
      );
    } finally {
      writeFileSync(recorded, base);
    }
    await r.env.run(r.a.installDependencies, { ...r.at, setup });
    const installed = readFileSync(path.join(dependenciesDirOf(r.ws.workspacePath), 'out', 'app.js'), 'utf8');
    assert.equal(installed, 'module.exports = 1;\n', "setup saw the base's file, not the agent's");
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

  // Before: a run of one's own left the spec's acceptance test out, or ran it as `true`, and the change was signed PASS.
  it('runGate runs an acceptance test only as the spec words it; issueVerdict refuses a verdict without it', async () => {
    const acceptance = [{ id: 'A1', given: 'the app', when: 'tested', then: 'it fails', test_command: 'exit 1' }];
    const r = await insiderRun(
      { gates: POLICY.gates },
      { spec: specYaml({ scope: { in: ['src/', 'test/'], out: [] }, acceptance }) },
    );
    await assert.rejects(
      gate(r, 'acceptance-A1', ['true'], 'acceptance'),
      refusedAs(
        'PolicyMismatchError',
        /acceptance-A1 was to run \["true"\]; the spec's test command is \["sh","-c","exit 1"\]/,
      ),
    );
    const checked = await policyCheck(r);
    assert.ok(
      checked.every((g) => g.status === 'pass'),
      JSON.stringify(checked),
    );
    const passing = [...checked, await gate(r, 'tests', TESTS)];
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, passing)),
      refusedAs('PolicyMismatchError', /gate acceptance-A1: the acceptance test did not run/),
    );
    const honest = await gate(r, 'acceptance-A1', ['sh', '-c', 'exit 1'], 'acceptance');
    assert.equal(honest.status, 'fail');
    await assert.rejects(
      r.env.run(r.a.issueVerdict, verdictOf(r, [...passing, { ...honest, status: 'pass', argv: ['true'] }])),
      refusedAs('PolicyMismatchError', /stated as acceptance \["true"\], the acceptance test is/),
    );
    const signed: IssuedVerdict = await r.env.run(r.a.issueVerdict, verdictOf(r, [...passing, honest]));
    assert.equal(signed.outcome, 'FAIL');
  });

  // The subject is the patch, the gates judged the tree: another attempt's patch, one a gate failed, was signed PASS.
  it("issueVerdict refuses a patch that is not the judged tree's change from the verdict's base, or an agent never routed", async () => {
    const r = await insiderRun({});
    const first = r.diff;
    const attempts = [await failedFirstAttempt(r)];
    const judged = await secondAttempt(r);
    const second = judged.diff;
    const gates = await laxCheck(judged);
    const verdict = { ...verdictOf(judged, gates), attempts };
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
    const { approval, keyId } = await approvalOf(r);
    const waiverId = newWaiverId(r);
    // As the desk states the budget once the waiver is stored.
    const detail = waivedDetailOf(r, waiverId, approval.claim.delta);
    const gates = (await laxCheck(r)).map((g) => (g.name === 'budget' ? { ...g, detail } : g));
    await storeWaiverOf(r, approval, keyId, waiverId);
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
    // Stated as the policy's command, so the gates stored for the tree are what refuses it.
    const asPolicy = { ...tests, source: 'policy' as const, argv: TESTS };
    const verdict = verdictOf(earlier, [...checked.map((g) => ({ ...g, status: 'pass' as const })), asPolicy]);
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
      const approval = await signedApproval(r.ref, pending, alice, expiresAt ? { expiresAt } : {});
      const store = storeWaiverOf(r, approval, alice.keyId, newWaiverId(r));
      await assert.rejects(store, refusedAs('WaiverNotAuthorizedError', refusal));
    }
  });
});
