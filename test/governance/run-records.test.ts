/**
 * Attack: one run's records used by another, or delivery of something the signed verdict does
 * not cover. Played at the activity boundary, as Temporal would schedule the activities for a
 * given run: deliverChange checks the verdict (key, outcome, tenant, task, run, tree, patch and
 * the repository's own policy) before writing a byte; issueVerdict and recordTransition fail
 * closed on a record another run wrote.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { storeArtifact } from '../../db/artifacts';
import { saveGateResults } from '../../db/gate-results';
import { storeRunPolicy } from '../../db/run-policies';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { taskEvents, tasks, verdicts } from '../../db/schema';
import type {
  DeliverChangeInput,
  Delivery,
  IssueVerdictInput,
  IssuedVerdict,
  PolicyProvenance,
  RecordTransitionInput,
} from '../../domain/activity-io';
import { deliveryBranch, taskWorkflowId, type TaskRef } from '../../temporal-config';
import { ARBITER_EVIDENCE_FIELD } from '../../domain/vsa';
import { gitIn, makeRepo, tempDir, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { deliveryFor, refExists, sha256, verdictToIssue } from './helpers';
import { SILENT_LOGGER } from '../../workers/logger';

/** Activities running as run `runId` of the task's workflow (or of `workflowId`), as Temporal would report it. */
function asRun(ref: TaskRef, runId: string, workflowId = taskWorkflowId(ref), deps = testActivityDeps()) {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }, { logger: SILENT_LOGGER });
  const a = createActivities(deps);
  return {
    transition: (seq: number, from: string | null, to: string, task: RecordTransitionInput['task'] = {}) =>
      env.run(a.recordTransition, {
        ...ref,
        workflowId,
        seq,
        from: from as never,
        to: to as never,
        at: new Date().toISOString(),
        task,
      }),
    issueVerdict: (input: IssueVerdictInput): Promise<IssuedVerdict> => env.run(a.issueVerdict, input),
    deliverChange: (input: DeliverChangeInput): Promise<Delivery> => env.run(a.deliverChange, input),
  };
}

/** Rejects with the ApplicationFailure of `type` whose message matches every pattern. */
async function assertRefused(promise: Promise<unknown>, type: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

/** A commit on a side branch of `repo` (never on `main`) with the same policy file. */
function sideCommit(repo: string): string {
  gitIn(repo, 'checkout', '--quiet', '-b', uniqueId('side'));
  mkdirSync(path.join(repo, 'docs'), { recursive: true });
  writeFileSync(path.join(repo, 'docs', 'side.md'), 'side\n');
  gitIn(repo, 'add', '--all');
  gitIn(repo, 'commit', '--quiet', '-m', 'side');
  const commit = gitIn(repo, 'rev-parse', 'HEAD');
  gitIn(repo, 'checkout', '--quiet', 'main');
  return commit;
}

/** A real change to `repo` (src/feature.js added), made in a clone: its tree id and exact patch bytes. */
function changeTo(repo: string): { base: string; treeId: string; patch: Buffer } {
  const work = tempDir('arbiter-run-scope-');
  gitIn(work, 'clone', '--quiet', repo, '.');
  writeFileSync(path.join(work, 'src', 'feature.js'), 'module.exports = () => 42;\n');
  gitIn(work, 'add', '--all');
  const base = gitIn(work, 'rev-parse', 'HEAD');
  const treeId = gitIn(work, 'write-tree');
  return { base, treeId, patch: execFileSync('git', ['-C', work, 'diff', '--binary', base, treeId]) };
}

/** The policy of a repository without one, read at `base` on its trusted ref (`main`). */
const defaultPolicy = (base: string): PolicyProvenance => ({
  source: 'default',
  digest: 'default',
  file: null,
  ref: 'refs/heads/main',
  commit: base,
});

/** Where a run's change was judged, for tests that store gate results before its verdict's own. */
interface JudgedAt {
  tenantId: string;
  taskId: string;
  runId: string;
  treeId: string;
  base: string;
}

/**
 * One run's way to its verdict, done through the activities: the task row, the stored patch, and
 * its gates (`gateStatus` evidence) stored after whatever `earlier` stores. Returns the verdict input.
 */
async function runToVerdict(
  repo: string,
  gateStatus: 'pass' | 'fail' = 'pass',
  policyOf: (base: string) => PolicyProvenance = defaultPolicy,
  earlier?: (at: JudgedAt) => Promise<void>,
) {
  const ref = { tenantId: uniqueId('runs'), taskId: uniqueId('task') };
  const runId = uniqueId('run');
  const run = asRun(ref, runId);
  const { base, treeId, patch } = changeTo(repo);
  const artifactId = `${ref.tenantId}/${ref.taskId}/${runId}/patch`;
  const digest = await storeArtifact(testStack().database.db, {
    id: artifactId,
    ...ref,
    runId,
    kind: 'patch',
    bytes: patch,
  });
  await run.transition(0, null, 'RECEIVED');
  await earlier?.({ ...ref, runId, treeId, base });
  const verdictInput = await verdictToIssue(
    { ref, repoDir: repo, base, treeId, digest, artifactId, gateStatus, policy: policyOf(base) },
    runId,
  );
  return { ref, runId, run, verdictInput };
}

/** A run's way to delivery: {@link runToVerdict}, its signed verdict, and the delivery input it covers. */
async function verifiedRun(
  repo: string,
  gateStatus: 'pass' | 'fail' = 'pass',
  policyOf: (base: string) => PolicyProvenance = defaultPolicy,
) {
  const judged = await runToVerdict(repo, gateStatus, policyOf);
  const verdict = await judged.run.issueVerdict(judged.verdictInput);
  const delivery = deliveryFor(judged.verdictInput, repo, verdict.digest);
  return { ...judged, verdict, delivery };
}

describe("governance: records of one run are never another run's", function () {
  this.timeout(60_000);

  it('deliverChange refuses a tree, patch or verdict digest the signed verdict does not cover, and writes nothing', async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    const branch = `refs/heads/${deliveryBranch(ref.taskId)}`;
    const baseTree = gitIn(repo, 'rev-parse', 'HEAD^{tree}');
    await assertRefused(
      run.deliverChange({ ...delivery, treeId: baseTree }),
      'DeliveryNotCoveredError',
      new RegExp(`verdict tree is '${delivery.treeId}', not '${baseTree}'`),
    );
    await assertRefused(
      run.deliverChange({ ...delivery, patchDigest: sha256('another patch') }),
      'DeliveryNotCoveredError',
      /verdict patch digest is 'sha256:[0-9a-f]{64}', not 'sha256:/,
    );
    await assertRefused(
      run.deliverChange({ ...delivery, verdictDigest: sha256('another verdict') }),
      'DeliveryNotCoveredError',
      /verdict digest is 'sha256:[0-9a-f]{64}', not 'sha256:/,
    );
    await assertRefused(
      run.deliverChange({ ...delivery, taskId: uniqueId('task') }),
      'DeliveryNotCoveredError',
      /is not recorded/,
      /no signed verdict was issued/,
    );
    assert.equal(refExists(repo, branch), false, 'no branch was created by a refused delivery');

    // The control: exactly what the verdict covers is delivered.
    const delivered = await run.deliverChange(delivery);
    assert.equal(gitIn(repo, 'rev-parse', `${branch}^{tree}`), delivery.treeId);
    assert.equal(gitIn(repo, 'rev-parse', branch), delivered.commit);
  });

  it("deliverChange refuses a FAIL verdict, another run's verdict, a tampered envelope and a key it does not trust", async () => {
    const repo = makeRepo();
    const failed = await verifiedRun(repo, 'fail');
    assert.equal(failed.verdict.outcome, 'FAIL');
    await assertRefused(
      failed.run.deliverChange(failed.delivery),
      'DeliveryNotCoveredError',
      /verdict outcome is 'FAIL'; only PASS or WAIVED is delivered/,
    );

    const passed = await verifiedRun(repo);
    const otherRun = uniqueId('run');
    await assertRefused(
      asRun(passed.ref, otherRun).deliverChange(passed.delivery),
      'DeliveryNotCoveredError',
      new RegExp(`task run is '${passed.runId}', not '${otherRun}'`),
      new RegExp(`no signed verdict was issued in run ${otherRun}`),
    );

    const stranger = createVerdictSigner(loadOrCreateSigningKey(path.join(tempDir('arbiter-key-'), 'k.pem')));
    await assertRefused(
      asRun(passed.ref, passed.runId, undefined, testActivityDeps({ signer: stranger })).deliverChange(passed.delivery),
      'DeliveryNotCoveredError',
      /which is not a trusted key/,
    );

    const { db } = testStack().database;
    const where = and(
      eq(verdicts.tenantId, passed.ref.tenantId),
      eq(verdicts.taskId, passed.ref.taskId),
      eq(verdicts.runId, passed.runId),
    );
    const [stored] = await db.select().from(verdicts).where(where);
    const envelope = JSON.parse(stored.envelope ?? '{}');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    statement.predicate[ARBITER_EVIDENCE_FIELD].diff.treeId = gitIn(repo, 'rev-parse', 'HEAD^{tree}');
    await db
      .update(verdicts)
      .set({
        envelope: JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') }),
      })
      .where(where);
    await assertRefused(
      passed.run.deliverChange(passed.delivery),
      'DeliveryNotCoveredError',
      /verdict envelope: signature does not verify/,
      /verdict tree is/,
    );
    assert.equal(refExists(repo, `refs/heads/${deliveryBranch(failed.ref.taskId)}`), false);
    assert.equal(refExists(repo, `refs/heads/${deliveryBranch(passed.ref.taskId)}`), false);
  });

  it("deliverChange refuses a verdict judged by anything but the repository's own policy", async () => {
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': 'version: 1\n' });
    const weak = (base: string): PolicyProvenance => ({
      source: 'default',
      digest: 'default',
      file: null,
      ref: 'refs/heads/main',
      commit: base,
    });
    const wrongRef = (base: string): PolicyProvenance => ({
      source: 'current',
      digest: sha256('version: 1\n'),
      file: '.caws/policy.yaml',
      ref: 'refs/heads/weak',
      commit: base,
    });
    const offRef = (): PolicyProvenance => ({
      source: 'current',
      digest: sha256('version: 1\n'),
      file: '.caws/policy.yaml',
      ref: 'refs/heads/main',
      commit: sideCommit(repo),
    });
    const cases: Array<[(base: string) => PolicyProvenance, RegExp]> = [
      [weak, /verdict's policy digest default is not the policy at [0-9a-f]{40} \(sha256:/],
      [
        wrongRef,
        /judged by the policy of 'refs\/heads\/weak', but the repository's trusted ref is 'refs\/heads\/main'/,
      ],
      [offRef, /verdict's policy commit [0-9a-f]{40} is not on the trusted ref 'refs\/heads\/main'/],
    ];
    for (const [policyOf, reason] of cases) {
      const { ref, run, delivery } = await verifiedRun(repo, 'pass', policyOf);
      await assertRefused(run.deliverChange(delivery), 'DeliveryNotCoveredError', reason);
      assert.equal(refExists(repo, `refs/heads/${deliveryBranch(ref.taskId)}`), false);
    }
    const honest = (base: string): PolicyProvenance => ({
      source: 'current',
      digest: sha256('version: 1\n'),
      file: '.caws/policy.yaml',
      ref: 'refs/heads/main',
      commit: base,
    });
    const { run, delivery } = await verifiedRun(repo, 'pass', honest);
    await run.deliverChange(delivery);
  });

  it('issueVerdict refuses a different verdict stored for the same run, and returns its own on a retry', async () => {
    const repo = makeRepo();
    const { ref, runId, verdict, verdictInput } = await verifiedRun(repo);
    const retried = await asRun(ref, runId).issueVerdict(verdictInput);
    assert.deepEqual(retried, verdict, 'a retry in the same run signs the same statement and finds it stored');
    const { db } = testStack().database;
    await db
      .update(verdicts)
      .set({ digest: sha256('planted') })
      .where(eq(verdicts.id, verdict.verdictId));
    await assertRefused(
      asRun(ref, runId).issueVerdict(verdictInput),
      'RecordMismatchError',
      new RegExp(`run ${runId} already has verdict ${sha256('planted')}`),
    );
    // Another run of the task gets its own verdict; the planted one is never handed out.
    const other = await asRun(ref, uniqueId('run')).issueVerdict(verdictInput);
    assert.notEqual(other.verdictId, verdict.verdictId);
  });

  it('issueVerdict refuses a pass of a check that failed on the same change before: another attempt, a retry, a reset run', async () => {
    const repo = makeRepo();
    const { db } = testStack().database;
    const failed = (attempt: number, at: JudgedAt, runId = at.runId, treeId = at.treeId) =>
      saveGateResults(db, { ...at, runId, attempt, treeId, baseCommit: undefined }, [
        { name: 'tests', kind: 'command', source: 'submitter', status: 'fail', detail: 'tests fail' },
      ]);
    // Run again under another attempt number until it passed.
    const rerun = await runToVerdict(repo, 'pass', defaultPolicy, (at) => failed(0, at));
    await assertRefused(
      rerun.run.issueVerdict(rerun.verdictInput),
      'RecordMismatchError',
      new RegExp(`gate tests: failed on tree ${rerun.verdictInput.diff.treeId} in attempt 0 of run ${rerun.runId}`),
    );
    // Retried under the same attempt number: the pass is a row of its own; the failure stays.
    const retried = await runToVerdict(repo, 'pass', defaultPolicy, (at) => failed(1, at));
    await assertRefused(
      retried.run.issueVerdict(retried.verdictInput),
      'RecordMismatchError',
      new RegExp(`gate tests: failed on tree [0-9a-f]{40} in attempt 1 of run ${retried.runId}`),
    );
    // Failed in a run that read the same policy, then passed in a run reset from it.
    const earlierRun = uniqueId('run');
    const reset = await runToVerdict(repo, 'pass', defaultPolicy, async (at) => {
      await storeRunPolicy(
        db,
        { ...at, runId: earlierRun },
        { policy: DEFAULT_REPO_POLICY, provenance: defaultPolicy(at.base) },
        realpathSync(repo),
      );
      await failed(1, at, earlierRun);
    });
    await assertRefused(
      reset.run.issueVerdict(reset.verdictInput),
      'RecordMismatchError',
      new RegExp(`gate tests: failed on tree [0-9a-f]{40} in attempt 1 of run ${earlierRun}`),
    );
    // The same, when the earlier run read the same policy file at another commit of the trusted ref.
    const otherCommit = uniqueId('run');
    const movedRef = await runToVerdict(repo, 'pass', defaultPolicy, async (at) => {
      const provenance = { ...defaultPolicy(at.base), commit: 'c'.repeat(40) };
      await storeRunPolicy(
        db,
        { ...at, runId: otherCommit },
        { policy: DEFAULT_REPO_POLICY, provenance },
        realpathSync(repo),
      );
      await failed(1, at, otherCommit);
    });
    await assertRefused(
      movedRef.run.issueVerdict(movedRef.verdictInput),
      'RecordMismatchError',
      new RegExp(`gate tests: failed on tree [0-9a-f]{40} in attempt 1 of run ${otherCommit}`),
    );
    // A failure on another tree (an earlier attempt's change) does not count against this one.
    const otherTree = await runToVerdict(repo, 'pass', defaultPolicy, (at) => failed(0, at, at.runId, 'f'.repeat(40)));
    assert.equal((await otherTree.run.issueVerdict(otherTree.verdictInput)).outcome, 'PASS');
  });

  it('issueVerdict signs a FAIL over a change whose other check failed before and passed since', async () => {
    const repo = makeRepo();
    const { db } = testStack().database;
    const tests = { name: 'tests', kind: 'command', source: 'submitter', detail: 'tests' } as const;
    const judged = await runToVerdict(repo, 'pass', defaultPolicy, (at) =>
      saveGateResults(db, { ...at, attempt: 0 }, [{ ...tests, status: 'fail' }]),
    );
    // The scope gate fails this attempt (judged again, and stored after the run's other results).
    const at = { ...judged.ref, runId: judged.runId, attempt: 1, treeId: judged.verdictInput.diff.treeId };
    const scope = { name: 'scope', kind: 'scope', source: 'arbiter', status: 'fail', detail: 'scope fail' } as const;
    await saveGateResults(db, at, [scope]);
    const gates = judged.verdictInput.gates.map((g) => (g.name === 'scope' ? scope : g));
    const verdict = await judged.run.issueVerdict({ ...judged.verdictInput, gates });
    assert.equal(verdict.outcome, 'FAIL');
  });

  it('recordTransition refuses a foreign workflow id and a task that ended in another run, and lets a run take over one left unfinished', async () => {
    const ref = { tenantId: uniqueId('runs'), taskId: uniqueId('task') };
    await assertRefused(
      asRun(ref, uniqueId('run'), 'not-the-task').transition(0, null, 'RECEIVED'),
      'WorkflowIdMismatchError',
      new RegExp(`'not-the-task' is not this task's id '${taskWorkflowId(ref)}'`),
    );

    const [a, b, c] = [uniqueId('run-a'), uniqueId('run-b'), uniqueId('run-c')];
    await asRun(ref, a).transition(0, null, 'RECEIVED');
    await asRun(ref, a).transition(1, 'RECEIVED', 'VALIDATING_SPEC');
    await asRun(ref, b).transition(0, null, 'RECEIVED');
    const { db } = testStack().database;
    const row = async () =>
      (
        await db
          .select()
          .from(tasks)
          .where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId)))
      )[0];
    assert.deepEqual(
      [(await row()).runId, (await row()).state, (await row()).lastSeq],
      [b, 'RECEIVED', 0],
      'run b took over the unfinished task',
    );
    await asRun(ref, b).transition(1, 'RECEIVED', 'VALIDATING_SPEC');
    await asRun(ref, b).transition(2, 'VALIDATING_SPEC', 'REJECTED');
    await assertRefused(
      asRun(ref, c).transition(0, null, 'RECEIVED'),
      'TaskAlreadyEndedError',
      new RegExp(`already ended REJECTED in run ${b}`),
    );
    assert.deepEqual([(await row()).runId, (await row()).state], [b, 'REJECTED'], 'the ended task is untouched');
    const events = await db
      .select()
      .from(taskEvents)
      .where(and(eq(taskEvents.tenantId, ref.tenantId), eq(taskEvents.taskId, ref.taskId)));
    assert.deepEqual(events.map((e) => `${e.runId === a ? 'a' : e.runId === b ? 'b' : 'c'}${e.seq}`).sort(), [
      'a0',
      'a1',
      'b0',
      'b1',
      'b2',
    ]);
  });

  it('recordTransition: a late attempt of an older transition neither moves the task back nor records its event twice; columns set once stay', async () => {
    const ref = { tenantId: uniqueId('runs'), taskId: uniqueId('task') };
    const run = asRun(ref, uniqueId('run'));
    await run.transition(0, null, 'RECEIVED', { repoPath: '/repo' });
    await run.transition(1, 'RECEIVED', 'VALIDATING_SPEC');
    await run.transition(2, 'VALIDATING_SPEC', 'SPEC_APPROVED', { specId: 'SPEC-1', riskTier: 2 });
    await run.transition(3, 'SPEC_APPROVED', 'ROUTING');
    await run.transition(1, 'RECEIVED', 'VALIDATING_SPEC'); // a retried attempt that arrives late
    await run.transition(2, 'VALIDATING_SPEC', 'SPEC_APPROVED', { specId: 'SPEC-LATE', riskTier: 1 });
    const { db } = testStack().database;
    const [row] = await db
      .select()
      .from(tasks)
      .where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId)));
    assert.deepEqual(
      [row.state, row.lastSeq, row.repoPath, row.specId, row.riskTier],
      ['ROUTING', 3, '/repo', 'SPEC-1', 2],
    );
    const events = await db
      .select()
      .from(taskEvents)
      .where(and(eq(taskEvents.tenantId, ref.tenantId), eq(taskEvents.taskId, ref.taskId)));
    assert.deepEqual(events.map((e) => `${e.seq}:${e.toState}`).sort(), [
      '0:RECEIVED',
      '1:VALIDATING_SPEC',
      '2:SPEC_APPROVED',
      '3:ROUTING',
    ]);
  });
});
