/**
 * Attack: reusing a stored PASS from another run. An insider with Temporal access starts the
 * task's workflow again — under another id, under its own id after it ended, by `temporal
 * workflow reset` — or calls delivery for something the signed verdict does not cover. Every
 * record is keyed per run, so the second run finds nothing to reuse: it fails at once naming
 * why, and nothing more reaches the target repository.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { provenanceEvents, taskEvents, tasks, verdicts, waiverDecisions, waivers } from '../../db/schema';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { deliveryBranch, taskWorkflowId, TASK_WORKFLOW_TYPE } from '../../temporal-config';
import type { taskLifecycle } from '../../workflows';
import { arbiter, cliEnv, resetRunTo, temporalWorkflow } from '../helpers/cli';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { PENDING_WAIVER, registeredApprover, signedApproval } from '../helpers/approvers';
import { SILENT_LOGGER } from '../../workers/logger';
import { refExists, specFile } from './helpers';
import { activitiesRun } from '../helpers/history';

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
  const input = {
    tenantId: tenant,
    taskId: uniqueId('task'),
    specYaml: specYaml(),
    repo: await registerRepo(tenant, repo),
  };
  const { runId } = await testStack().client.submit(input);
  // The run itself ends after the task does (it releases the workspace last): wait for it to close.
  const final = await testStack()
    .client.temporal.workflow.getHandle<typeof taskLifecycle>(taskWorkflowId(input), runId)
    .result();
  assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
  return { input, repo, runId, final, commit: gitIn(repo, 'rev-parse', deliveryBranch(input.taskId)) };
}

/** How a run ended: the error it failed with (undefined when it returned). */
async function failureOf(handle: WorkflowHandle): Promise<WorkflowFailedError> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, `the run must fail, it ended with ${String(err)}`);
  return err;
}

/** The ApplicationFailure types along an error's cause chain, outermost first. */
function failureTypes(err: unknown): string[] {
  const types: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ApplicationFailure) types.push(e.type ?? '');
  return types;
}

/** Every message along an error's cause chain, outermost first. */
function causeMessages(err: unknown): string {
  const messages: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) messages.push(e.message);
  return messages.join(' <- ');
}

/** Activity types a run ran, remote and local, in order. */
async function scheduledActivities(handle: WorkflowHandle): Promise<string[]> {
  return activitiesRun((await handle.fetchHistory()).events ?? []);
}

/** The first task's branch is where it was and the task row still names its run, COMPLETED. */
async function assertFirstRunStands(done: Completed): Promise<void> {
  assert.equal(
    gitIn(done.repo, 'rev-parse', deliveryBranch(done.input.taskId)),
    done.commit,
    'the delivered branch did not move',
  );
  const [row] = await testStack()
    .database.db.select()
    .from(tasks)
    .where(and(eq(tasks.tenantId, done.input.tenantId), eq(tasks.id, done.input.taskId)));
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
  const key = (t: typeof taskEvents | typeof verdicts) =>
    and(eq(t.tenantId, done.input.tenantId), eq(t.taskId, done.input.taskId), eq(t.runId, runId));
  assert.deepEqual(
    await db.select().from(taskEvents).where(key(taskEvents)),
    [],
    'no transition recorded for the second run',
  );
  assert.deepEqual(await db.select().from(verdicts).where(key(verdicts)), [], 'no verdict for the second run');
}

/** The run that followed `previous` under the same workflow id (after a reset). */
async function latestRun(workflowId: string, previous: string): Promise<WorkflowHandle> {
  const { runId } = await testStack().client.temporal.workflow.getHandle(workflowId).describe();
  assert.notEqual(runId, previous, 'the reset started a new run');
  return testStack().client.temporal.workflow.getHandle(workflowId, runId);
}

/** The run a reset of the finished task to the workflow task that scheduled its `activityType` started. */
async function resetBefore(done: Completed, activityType: string): Promise<WorkflowHandle> {
  const workflowId = taskWorkflowId(done.input);
  const first = testStack().client.temporal.workflow.getHandle(workflowId, done.runId);
  const events = (await first.fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType);
  const resetPoint = scheduled?.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
  assert.ok(resetPoint, `the first run scheduled ${activityType}`);
  await resetRunTo(workflowId, done.runId, String(resetPoint), 'run-scope test');
  return latestRun(workflowId, done.runId);
}

/** The first activity failure in a run's history. */
async function firstRefusal(handle: WorkflowHandle) {
  return ((await handle.fetchHistory()).events ?? []).find((e) => e.activityTaskFailedEventAttributes)
    ?.activityTaskFailedEventAttributes?.failure;
}

describe('governance: a verdict belongs to one run', function () {
  this.timeout(120_000);

  it('a second workflow for a finished task under another id fails at once with WorkflowIdMismatchError, before any step', async () => {
    const done = await completedTask();
    const { client, taskQueue } = testStack();
    const otherId = uniqueId('other-id');
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId: otherId,
      taskQueue,
      args: [done.input],
    });
    const err = await failureOf(handle);
    assert.deepEqual(failureTypes(err), ['WorkflowIdMismatchError']);
    assert.match(
      String(err.cause?.message),
      new RegExp(`workflow id '${otherId}' is not this task's id '${taskWorkflowId(done.input)}'`),
    );
    assert.deepEqual(await scheduledActivities(handle), [], 'refused before any activity ran');
    await assertNothingRecordedFor(done, handle.firstExecutionRunId);
    await assertFirstRunStands(done);
  });

  it('a run started by hand under the task id after it COMPLETED, aimed at a failing repository, fails with TaskAlreadyEndedError and delivers nothing', async () => {
    const done = await completedTask();
    const failing = makeRepo();
    const headBefore = gitIn(failing, 'rev-parse', 'HEAD');
    const { client, taskQueue } = testStack();
    const handle = await client.temporal.workflow.start(TASK_WORKFLOW_TYPE, {
      workflowId: taskWorkflowId(done.input),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      taskQueue,
      args: [
        {
          ...done.input,
          repo: await registerRepo(done.input.tenantId, failing),
          gates: [{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }],
        },
      ],
    });
    const err = await failureOf(handle);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    assert.match(causeMessages(err), new RegExp(`already ended COMPLETED in run ${done.runId}; a task id runs once`));
    assert.deepEqual(await scheduledActivities(handle), ['recordTransition'], 'the first transition refused the run');
    assert.equal(
      refExists(failing, `refs/heads/${deliveryBranch(done.input.taskId)}`),
      false,
      'nothing delivered to the failing repository',
    );
    assert.equal(gitIn(failing, 'rev-parse', 'HEAD'), headBefore);
    await assertNothingRecordedFor(done, handle.firstExecutionRunId);
    await assertFirstRunStands(done);

    // Resubmitting, status and watch say how the task ended, not how the refused run did.
    const again = await client.submit(done.input);
    assert.deepEqual([again.attached, again.ended], [true, 'COMPLETED']);
    for (const shown of [await client.status(done.input), await client.watch(done.input)]) {
      assert.equal(shown.state, 'COMPLETED');
      assert.equal(shown.verdict?.outcome, 'PASS');
    }
  });

  it('`temporal workflow reset` of a COMPLETED task to its first workflow task fails naming TaskAlreadyEndedError, delivering nothing again', async () => {
    const done = await completedTask();
    const workflowId = taskWorkflowId(done.input);
    await temporalWorkflow([
      'reset',
      '--workflow-id',
      workflowId,
      '--type',
      'FirstWorkflowTask',
      '--reason',
      'run-scope test',
    ]);
    const reset = await latestRun(workflowId, done.runId);
    const err = await failureOf(reset);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    await assertNothingRecordedFor(done, (await reset.describe()).runId);
    await assertFirstRunStands(done);
  });

  it('`temporal workflow reset` of a COMPLETED task to just before delivery: deliverChange refuses (no verdict of this run), the run fails naming TaskAlreadyEndedError', async () => {
    const done = await completedTask();
    const reset = await resetBefore(done, 'deliverChange');
    const err = await failureOf(reset);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    const newRunId = (await reset.describe()).runId;
    const refusal = await firstRefusal(reset);
    assert.equal(refusal?.applicationFailureInfo?.type, 'DeliveryNotCoveredError', JSON.stringify(refusal));
    assert.match(refusal?.message ?? '', new RegExp(`task run is '${done.runId}', not '${newRunId}'`));
    assert.match(refusal?.message ?? '', new RegExp(`no signed verdict was issued in run ${newRunId}`));
    await assertNothingRecordedFor(done, newRunId);
    await assertFirstRunStands(done);
  });

  it('`temporal workflow reset` of a COMPLETED task to just before its verdict: issueVerdict refuses, no second verdict is signed', async () => {
    const done = await completedTask();
    const reset = await resetBefore(done, 'issueVerdict');
    const err = await failureOf(reset);
    assert.deepEqual(failureTypes(err).slice(-1), ['TaskAlreadyEndedError'], String(err.cause));
    const refusal = await firstRefusal(reset);
    assert.equal(refusal?.applicationFailureInfo?.type, 'TaskAlreadyEndedError', JSON.stringify(refusal));
    assert.match(refusal?.message ?? '', new RegExp(`already ended COMPLETED in run ${done.runId}`));
    await assertNothingRecordedFor(done, (await reset.describe()).runId);
    const signed = await testStack()
      .database.db.select()
      .from(provenanceEvents)
      .where(and(eq(provenanceEvents.tenantId, done.input.tenantId), eq(provenanceEvents.kind, 'verdict.issued')));
    assert.equal(signed.length, 1, "one verdict event, the first run's");
    await assertFirstRunStands(done);
  });

  it("a reset run's waiver steps refuse a task that ended under another run: no decision recorded, no waiver stored", async () => {
    const done = await completedTask();
    const { tenantId, taskId } = done.input;
    const runId = uniqueId('reset-run');
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId: taskWorkflowId(done.input), runId } },
      { logger: SILENT_LOGGER },
    );
    const a = createActivities(testActivityDeps());
    // A registered key: the refusal is for the ended task, not for an unknown approver.
    const key = await registeredApprover(tenantId, 'alice');
    const signed = await signedApproval(done.input, { ...PENDING_WAIVER, runId }, key);
    const ended = new RegExp(`already ended COMPLETED in run ${done.runId}`);
    await assert.rejects(env.run(a.authorizeWaiverDecision, { tenantId, taskId, riskTier: 3, signed }), ended);
    await assert.rejects(
      env.run(a.storeWaiver, {
        ...{ tenantId, taskId, waiverId: `WV-${taskId}`, specId: 'FEAT-1', gates: ['budget'] },
        ...{ delta: PENDING_WAIVER.delta, reasonCode: 'architectural_refactor', approvals: [signed] },
        approvers: [{ approver: key.name, keyId: key.keyId, at: new Date().toISOString() }],
        ...{ expiresAt: signed.claim.expiresAt, budgetDetail: 'waived' },
      }),
      ended,
    );
    const { db } = testStack().database;
    assert.deepEqual(await db.select().from(waiverDecisions).where(eq(waiverDecisions.taskId, taskId)), []);
    assert.deepEqual(await db.select().from(waivers).where(eq(waivers.tenantId, tenantId)), []);
    // The control: the run that owns the task's row is authorised the same decision while the task
    // waits for it (reopened here: an ended task takes no decision from its own run either).
    await db
      .update(tasks)
      .set({ state: 'VERIFYING' })
      .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, taskId)));
    const owner = new MockActivityEnvironment(
      { workflowExecution: { workflowId: taskWorkflowId(done.input), runId: done.runId } },
      { logger: SILENT_LOGGER },
    );
    const own = await signedApproval(done.input, { ...PENDING_WAIVER, runId: done.runId }, key);
    await owner.run(a.authorizeWaiverDecision, { tenantId, taskId, riskTier: 3, signed: own });
    assert.equal((await db.select().from(waiverDecisions).where(eq(waiverDecisions.taskId, taskId))).length, 1);
    await db
      .update(tasks)
      .set({ state: 'COMPLETED' })
      .where(and(eq(tasks.tenantId, tenantId), eq(tasks.id, taskId)));
    await assertFirstRunStands(done);
  });

  it('arbiter submit of a finished task says it already ended and will not run again, also in --json', async () => {
    const done = await completedTask();
    const args = [
      'submit',
      specFile(done.input.specYaml),
      '--repo',
      done.input.repo,
      '--tenant',
      done.input.tenantId,
      '--task-id',
      done.input.taskId,
    ];
    const text = await arbiter(args, cliEnv());
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      new RegExp(
        `^attached to ${taskWorkflowId(done.input)} \\(run ${done.runId}\\); the task already ended COMPLETED and will not run again`,
      ),
    );
    const json = await arbiter([...args, '--json'], cliEnv());
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      workflowId: taskWorkflowId(done.input),
      runId: done.runId,
      attached: true,
      ended: 'COMPLETED',
    });
    await assertFirstRunStands(done);
  });
});
