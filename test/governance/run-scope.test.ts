/**
 * Attack: reusing a stored PASS from another run. An insider with Temporal access starts the
 * task's workflow again — under another id, under its own id after it ended, by `temporal
 * workflow reset` — or calls delivery for something the signed verdict does not cover. Every
 * record is keyed per run, so the second run finds nothing to reuse: it fails at once naming
 * why, and nothing more reaches the target repository.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { storeArtifact } from '../../activities/artifacts';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../activities/signing';
import { temporalCliPath } from '../../client/paths';
import { provenanceEvents, taskEvents, tasks, verdicts } from '../../db/schema';
import type { DeliverChangeInput, Delivery, DiffSummary, IssueVerdictInput, IssuedVerdict } from '../../domain/activity-io';
import type { GateResult, TaskInput, TaskSnapshot } from '../../domain/task';
import { deliveryBranch, taskWorkflowId, type TaskRef } from '../../temporal-config';
import type { taskLifecycle } from '../../workflows';
import { arbiter } from '../helpers/cli';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { cliEnv, refExists, sha256, specFile } from './helpers';

/** A task that ran to COMPLETED and delivered its branch. */
interface Completed {
  input: TaskInput & { tenantId: string; taskId: string };
  repo: string;
  runId: string;
  final: TaskSnapshot;
  /** The delivered branch's commit. */
  commit: string;
}

async function completedTask(): Promise<Completed> {
  const tenant = uniqueId('runs');
  await addScriptedAgent(tenant, GOOD_PLAN);
  const repo = makeRepo();
  const input = { tenantId: tenant, taskId: uniqueId('task'), specYaml: specYaml(), repoPath: repo };
  const { runId } = await testStack().client.submit(input);
  // The run itself ends after the task does (it releases the workspace last): wait for it to close.
  const final = await testStack().client.temporal.workflow.getHandle<typeof taskLifecycle>(taskWorkflowId(input), runId).result();
  assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
  return { input, repo, runId, final, commit: gitIn(repo, 'rev-parse', deliveryBranch(input.taskId)) };
}

/** How a run ended: the error it failed with (undefined when it returned). */
async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const err = await handle.result().then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof WorkflowFailedError, `the run must fail, it ended with ${String(err)}`);
  return err;
}

/** The ApplicationFailure types along an error's cause chain, outermost first. */
function failureTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ApplicationFailure) types.push(e.type ?? '');
  return types;
}

/** Activity types a run scheduled, in order. */
async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name ?? ''] : []));
}

/** The first task's branch is where it was and the task row still names its run, COMPLETED. */
async function assertFirstRunStands(done: Completed): Promise<void> {
  assert.equal(gitIn(done.repo, 'rev-parse', deliveryBranch(done.input.taskId)), done.commit, 'the delivered branch did not move');
  const [row] = await testStack().database.db.select().from(tasks).where(and(eq(tasks.tenantId, done.input.tenantId), eq(tasks.id, done.input.taskId)));
  assert.deepEqual([row.state, row.runId], ['COMPLETED', done.runId]);
  const delivered = await testStack()
    .database.db.select()
    .from(provenanceEvents)
    .where(and(eq(provenanceEvents.tenantId, done.input.tenantId), eq(provenanceEvents.kind, 'change.delivered')));
  assert.equal(delivered.length, 1, 'delivered once, by the first run');
}

/** Nothing of `runId` was recorded for the task: no transition, no verdict. */
async function assertNothingRecordedFor(done: Completed, runId: string): Promise<void> {
  const { db } = testStack().database;
  const key = (t: typeof taskEvents | typeof verdicts) => and(eq(t.tenantId, done.input.tenantId), eq(t.taskId, done.input.taskId), eq(t.runId, runId));
  assert.deepEqual(await db.select().from(taskEvents).where(key(taskEvents)), [], 'no transition recorded for the second run');
  assert.deepEqual(await db.select().from(verdicts).where(key(verdicts)), [], 'no verdict for the second run');
}

/** `temporal workflow <args>` against the test server, as an operator would type it. */
async function temporalWorkflow(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(temporalCliPath(), ['workflow', ...args, '--address', testStack().address, '--namespace', 'default'], { timeout: 60_000 });
  return stdout;
}

/** The run that followed `previous` under the same workflow id (after a reset). */
async function latestRun(workflowId: string, previous: string): Promise<WorkflowHandle> {
  const { runId } = await testStack().client.temporal.workflow.getHandle(workflowId).describe();
  assert.notEqual(runId, previous, 'the reset started a new run');
  return testStack().client.temporal.workflow.getHandle(workflowId, runId);
}

describe('governance: a verdict belongs to one run', function () {
  this.timeout(120_000);

  it('a second workflow for a finished task under another id fails at once with WorkflowIdMismatchError, before any step', async () => {
    const done = await completedTask();
    const { client, taskQueue } = testStack();
    const otherId = uniqueId('other-id');
    const handle = await client.temporal.workflow.start('taskLifecycle', { workflowId: otherId, taskQueue, args: [done.input] });
    const err = await failureOf(handle);
    assert.deepEqual(failureTypes(err), ['WorkflowIdMismatchError']);
    assert.match(String(err.cause?.message), new RegExp(`workflow id '${otherId}' is not this task's id '${taskWorkflowId(done.input)}'`));
    assert.deepEqual(await scheduledActivities(handle), [], 'refused before any activity ran');
    await assertNothingRecordedFor(done, handle.firstExecutionRunId);
    await assertFirstRunStands(done);
  });

  it('a run started by hand under the task id after it COMPLETED, aimed at a failing repository, fails with TaskAlreadyEndedError and delivers nothing', async () => {
    const done = await completedTask();
    const failing = makeRepo();
    const headBefore = gitIn(failing, 'rev-parse', 'HEAD');
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start('taskLifecycle', {
      workflowId: taskWorkflowId(done.input),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      taskQueue,
      args: [{ ...done.input, repoPath: failing, gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }] }],
    });
    const err = await failureOf(handle);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    assert.match(String((err.cause?.cause as Error | undefined)?.message), new RegExp(`already ended COMPLETED in run ${done.runId}; a task id runs once`));
    assert.deepEqual(await scheduledActivities(handle), ['recordTransition'], 'the first transition refused the run');
    assert.equal(refExists(failing, `refs/heads/${deliveryBranch(done.input.taskId)}`), false, 'nothing delivered to the failing repository');
    assert.equal(gitIn(failing, 'rev-parse', 'HEAD'), headBefore);
    await assertNothingRecordedFor(done, handle.firstExecutionRunId);
    await assertFirstRunStands(done);

    // Resubmitting says how the task ended, not how the refused run did.
    const again = await client.submit(done.input);
    assert.deepEqual([again.attached, again.ended], [true, 'COMPLETED']);
  });

  it('`temporal workflow reset` of a COMPLETED task to its first workflow task fails naming TaskAlreadyEndedError, delivering nothing again', async () => {
    const done = await completedTask();
    const workflowId = taskWorkflowId(done.input);
    await temporalWorkflow(['reset', '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'run-scope test']);
    const reset = await latestRun(workflowId, done.runId);
    const err = await failureOf(reset);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    await assertNothingRecordedFor(done, (await reset.describe()).runId);
    await assertFirstRunStands(done);
  });

  it('`temporal workflow reset` of a COMPLETED task to just before delivery: deliverChange refuses (no verdict of this run), the run fails naming TaskAlreadyEndedError', async () => {
    const done = await completedTask();
    const workflowId = taskWorkflowId(done.input);
    const first = testStack().client.temporal.workflow.getHandle(workflowId, done.runId);
    const events = (await first.fetchHistory()).events ?? [];
    const delivery = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deliverChange');
    const resetPoint = delivery?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    assert.ok(resetPoint, 'the first run scheduled deliverChange');
    await temporalWorkflow(['reset', '--workflow-id', workflowId, '--run-id', done.runId, '--event-id', String(resetPoint), '--reason', 'run-scope test']);
    const reset = await latestRun(workflowId, done.runId);
    const err = await failureOf(reset);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    const newRunId = (await reset.describe()).runId;
    const refusal = ((await reset.fetchHistory()).events ?? []).find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure;
    assert.equal(refusal?.applicationFailureInfo?.type, 'DeliveryNotCoveredError', JSON.stringify(refusal));
    assert.match(refusal?.message ?? '', new RegExp(`task run is '${done.runId}', not '${newRunId}'`));
    assert.match(refusal?.message ?? '', new RegExp(`no signed verdict was issued in run ${newRunId}`));
    await assertNothingRecordedFor(done, newRunId);
    await assertFirstRunStands(done);
  });

  it('arbiter submit of a finished task says it already ended and will not run again, also in --json', async () => {
    const done = await completedTask();
    const args = ['submit', specFile(done.input.specYaml), '--repo', done.repo, '--tenant', done.input.tenantId, '--task-id', done.input.taskId];
    const text = await arbiter(args, cliEnv());
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`^attached to ${taskWorkflowId(done.input)} \\(run ${done.runId}\\); the task already ended COMPLETED and will not run again`));
    const json = await arbiter([...args, '--json'], cliEnv());
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { workflowId: taskWorkflowId(done.input), runId: done.runId, attached: true, ended: 'COMPLETED' });
    await assertFirstRunStands(done);
  });
});

const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Activities running as run `runId` of the task's workflow (or of `workflowId`), as Temporal would report it. */
function asRun(ref: TaskRef, runId: string, workflowId = taskWorkflowId(ref), deps = testActivityDeps()) {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId, runId } }, { logger: quiet });
  const a = createActivities(deps);
  return {
    transition: (seq: number, from: string | null, to: string) => env.run(a.recordTransition, { ...ref, workflowId, seq, from: from as never, to: to as never, at: new Date().toISOString() }),
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

/** A real change to `repo` (src/feature.js added), made in a clone: its tree id and exact patch bytes. */
function changeTo(repo: string): { base: string; treeId: string; patch: Buffer } {
  const work = mkdtempSync(path.join(os.tmpdir(), 'arbiter-run-scope-'));
  gitIn(work, 'clone', '--quiet', repo, '.');
  writeFileSync(path.join(work, 'src', 'feature.js'), 'module.exports = () => 42;\n');
  gitIn(work, 'add', '--all');
  const base = gitIn(work, 'rev-parse', 'HEAD');
  const treeId = gitIn(work, 'write-tree');
  return { base, treeId, patch: execFileSync('git', ['-C', work, 'diff', '--binary', base, treeId]) };
}

/**
 * One run's way to delivery, done through the activities: the task row, the stored patch and a
 * signed verdict over `gateStatus` evidence. Returns the delivery input the verdict covers.
 */
async function verifiedRun(repo: string, gateStatus: 'pass' | 'fail' = 'pass') {
  const ref = { tenantId: uniqueId('runs'), taskId: uniqueId('task') };
  const runId = uniqueId('run');
  const run = asRun(ref, runId);
  const { base, treeId, patch } = changeTo(repo);
  const artifactId = `${ref.tenantId}/${ref.taskId}/${runId}/patch`;
  const digest = await storeArtifact(testStack().database.db, { id: artifactId, ...ref, runId, kind: 'patch', bytes: patch });
  await run.transition(0, null, 'RECEIVED');
  const diff: DiffSummary = { filesChanged: 1, linesAdded: 1, linesDeleted: 0, bytesAdded: 27, binaryFiles: 0, leftBehind: { count: 0, paths: [] }, treeId, digest, artifactId };
  const gates: GateResult[] = [{ name: 'tests', kind: 'command', source: 'submitter', status: gateStatus, detail: `tests ${gateStatus}` }];
  const policy = { source: 'default' as const, digest: 'default', file: null, ref: 'HEAD', commit: base };
  const verdictInput: IssueVerdictInput = { ...ref, specId: 'TEST-001', specDigest: sha256('spec'), agentId: 'agent', baseCommit: base, diff, gates, policy };
  const verdict = await run.issueVerdict(verdictInput);
  const delivery: DeliverChangeInput = { ...ref, repoPath: repo, baseCommit: base, treeId, artifactId, patchDigest: digest, specId: 'TEST-001', verdictDigest: verdict.digest, deliveredAt: new Date().toISOString() };
  return { ref, runId, run, verdict, verdictInput, delivery };
}

describe('governance: records of one run are never another run\'s', function () {
  this.timeout(60_000);

  it('deliverChange refuses a tree, patch or verdict digest the signed verdict does not cover, and writes nothing', async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    const branch = `refs/heads/${deliveryBranch(ref.taskId)}`;
    const baseTree = gitIn(repo, 'rev-parse', 'HEAD^{tree}');
    await assertRefused(run.deliverChange({ ...delivery, treeId: baseTree }), 'DeliveryNotCoveredError', new RegExp(`verdict tree is '${delivery.treeId}', not '${baseTree}'`));
    await assertRefused(run.deliverChange({ ...delivery, patchDigest: sha256('another patch') }), 'DeliveryNotCoveredError', /verdict patch digest is 'sha256:[0-9a-f]{64}', not 'sha256:/);
    await assertRefused(run.deliverChange({ ...delivery, verdictDigest: sha256('another verdict') }), 'DeliveryNotCoveredError', /verdict digest is 'sha256:[0-9a-f]{64}', not 'sha256:/);
    await assertRefused(run.deliverChange({ ...delivery, taskId: uniqueId('task') }), 'DeliveryNotCoveredError', /is not recorded/, /no signed verdict was issued/);
    assert.equal(refExists(repo, branch), false, 'no branch was created by a refused delivery');

    // The control: exactly what the verdict covers is delivered.
    const delivered = await run.deliverChange(delivery);
    assert.equal(gitIn(repo, 'rev-parse', `${branch}^{tree}`), delivery.treeId);
    assert.equal(gitIn(repo, 'rev-parse', branch), delivered.commit);
  });

  it('deliverChange refuses a FAIL verdict, another run\'s verdict, a tampered envelope and a key it does not trust', async () => {
    const repo = makeRepo();
    const failed = await verifiedRun(repo, 'fail');
    assert.equal(failed.verdict.outcome, 'FAIL');
    await assertRefused(failed.run.deliverChange(failed.delivery), 'DeliveryNotCoveredError', /verdict outcome is 'FAIL'; only PASS or WAIVED is delivered/);

    const passed = await verifiedRun(repo);
    const otherRun = uniqueId('run');
    await assertRefused(asRun(passed.ref, otherRun).deliverChange(passed.delivery), 'DeliveryNotCoveredError', new RegExp(`task run is '${passed.runId}', not '${otherRun}'`), new RegExp(`no signed verdict was issued in run ${otherRun}`));

    const stranger = createVerdictSigner(loadOrCreateSigningKey(path.join(mkdtempSync(path.join(os.tmpdir(), 'arbiter-key-')), 'k.pem')));
    await assertRefused(asRun(passed.ref, passed.runId, undefined, testActivityDeps({ signer: stranger })).deliverChange(passed.delivery), 'DeliveryNotCoveredError', /which is not a trusted key/);

    const { db } = testStack().database;
    const where = and(eq(verdicts.tenantId, passed.ref.tenantId), eq(verdicts.taskId, passed.ref.taskId), eq(verdicts.runId, passed.runId));
    const [stored] = await db.select().from(verdicts).where(where);
    const envelope = JSON.parse(stored.envelope ?? '{}');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    statement.predicate.diff.treeId = gitIn(repo, 'rev-parse', 'HEAD^{tree}');
    await db.update(verdicts).set({ envelope: JSON.stringify({ ...envelope, payload: Buffer.from(JSON.stringify(statement)).toString('base64') }) }).where(where);
    await assertRefused(passed.run.deliverChange(passed.delivery), 'DeliveryNotCoveredError', /verdict envelope: signature does not verify/, /verdict tree is/);
    assert.equal(refExists(repo, `refs/heads/${deliveryBranch(failed.ref.taskId)}`), false);
    assert.equal(refExists(repo, `refs/heads/${deliveryBranch(passed.ref.taskId)}`), false);
  });

  it('issueVerdict refuses a different verdict stored for the same run, and returns its own on a retry', async () => {
    const repo = makeRepo();
    const { ref, runId, verdict, verdictInput } = await verifiedRun(repo);
    const retried = await asRun(ref, runId).issueVerdict(verdictInput);
    assert.deepEqual(retried, verdict, 'a retry in the same run signs the same statement and finds it stored');
    const { db } = testStack().database;
    await db.update(verdicts).set({ digest: sha256('planted') }).where(eq(verdicts.id, verdict.verdictId));
    await assertRefused(asRun(ref, runId).issueVerdict(verdictInput), 'RecordMismatchError', new RegExp(`run ${runId} already has verdict ${sha256('planted')}`));
    // Another run of the task gets its own verdict; the planted one is never handed out.
    const other = await asRun(ref, uniqueId('run')).issueVerdict(verdictInput);
    assert.notEqual(other.verdictId, verdict.verdictId);
  });

  it('recordTransition refuses a foreign workflow id and a task that ended in another run, and lets a run take over one left unfinished', async () => {
    const ref = { tenantId: uniqueId('runs'), taskId: uniqueId('task') };
    await assertRefused(asRun(ref, uniqueId('run'), 'not-the-task').transition(0, null, 'RECEIVED'), 'WorkflowIdMismatchError', new RegExp(`'not-the-task' is not this task's id '${taskWorkflowId(ref)}'`));

    const [a, b, c] = [uniqueId('run-a'), uniqueId('run-b'), uniqueId('run-c')];
    await asRun(ref, a).transition(0, null, 'RECEIVED');
    await asRun(ref, a).transition(1, 'RECEIVED', 'VALIDATING_SPEC');
    await asRun(ref, b).transition(0, null, 'RECEIVED');
    const { db } = testStack().database;
    const row = async () => (await db.select().from(tasks).where(and(eq(tasks.tenantId, ref.tenantId), eq(tasks.id, ref.taskId))))[0];
    assert.deepEqual([(await row()).runId, (await row()).state, (await row()).lastSeq], [b, 'RECEIVED', 0], 'run b took over the unfinished task');
    await asRun(ref, b).transition(1, 'RECEIVED', 'VALIDATING_SPEC');
    await asRun(ref, b).transition(2, 'VALIDATING_SPEC', 'REJECTED');
    await assertRefused(asRun(ref, c).transition(0, null, 'RECEIVED'), 'TaskAlreadyEndedError', new RegExp(`already ended REJECTED in run ${b}`));
    assert.deepEqual([(await row()).runId, (await row()).state], [b, 'REJECTED'], 'the ended task is untouched');
    const events = await db.select().from(taskEvents).where(and(eq(taskEvents.tenantId, ref.tenantId), eq(taskEvents.taskId, ref.taskId)));
    assert.deepEqual(events.map((e) => `${e.runId === a ? 'a' : e.runId === b ? 'b' : 'c'}${e.seq}`).sort(), ['a0', 'a1', 'b0', 'b1', 'b2']);
  });
});
