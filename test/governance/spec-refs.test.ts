/**
 * Attack: pointing a run at a spec it did not validate. The validated spec is stored once per
 * task run and its activities read it by id and digest. An insider who starts a workflow (or
 * resets one) can put any reference into the activities' input; the server still reports which
 * run scheduled them, so a reference stored by another task or run, of another kind, never
 * stored, or whose bytes were altered since, is refused before the agent, the workspace or the
 * gates see it. A run reset past its validation keeps the replaced run's result: before its
 * next step it validates the spec text again and works to the spec it stored itself.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { storeArtifact } from '../../db/artifacts';
import { artifacts } from '../../db/schema';
import type { SpecRef, ValidateSpecResult } from '../../domain/activity-io';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import type { taskLifecycle } from '../../workflows';
import { REVALIDATE_AFTER_RESET_PATCH } from '../../workflows/run-spec';
import { resetRunTo } from '../helpers/cli';
import { addScriptedAgent, GOOD_PLAN, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { decodedHistory } from '../helpers/history';
import { waitFor } from '../helpers/wait';
import { nodeStep } from './helpers';
import { testActivityDeps, testStack } from '../helpers/stack';
import { ownTask } from '../helpers/tasks';

const NO_COMMIT = '0'.repeat(40);

/** A task run as the server reports it to the activities it schedules. */
function taskRun(ref: TaskRef = { tenantId: uniqueId('specref'), taskId: uniqueId('task') }) {
  const runId = uniqueId('run');
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId } },
    { logger: SILENT_LOGGER },
  );
  return { ref, runId, env };
}

/** Each activity that works to the spec, called by `run` with `spec` (everything else a placeholder). */
function specConsumers(run: ReturnType<typeof taskRun>, spec: SpecRef) {
  const a = createActivities(testActivityDeps());
  const { ref, env } = run;
  const at = { ...ref, workspacePath: '/nonexistent', baseCommit: NO_COMMIT };
  return {
    executeAgent: () => env.run(a.executeAgent, { ...at, agentId: 'no-agent', spec }),
    checkBudgetAndScope: () =>
      env.run(a.checkBudgetAndScope, {
        ...at,
        treeId: NO_COMMIT,
        trustedCommit: NO_COMMIT,
        policy: DEFAULT_REPO_POLICY,
        spec,
      }),
    startConversation: () =>
      env.run(a.startConversation, {
        ...ref,
        agentId: 'no-agent',
        conversationId: `${ref.tenantId}/${ref.taskId}/${run.runId}/1`,
        spec,
      }),
  };
}

/** Asserts every spec-consuming activity of `run` (the task's run now) refuses `spec` as `type`, naming why. */
async function assertAllRefuse(run: ReturnType<typeof taskRun>, spec: SpecRef, type: string, pattern: RegExp) {
  await ownTask(run.env, run.ref);
  for (const [name, call] of Object.entries(specConsumers(run, spec))) {
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, `${name}: ${String(err)}`);
      assert.equal(err.type, type, `${name}: ${err.message}`);
      assert.equal(err.nonRetryable, true, `${name} fails at once`);
      assert.match(err.message, pattern, name);
      return true;
    });
  }
}

/** Validates the default spec in `run`; returns its stored reference. */
async function validated(run: ReturnType<typeof taskRun>): Promise<SpecRef> {
  const a = createActivities(testActivityDeps());
  await ownTask(run.env, run.ref);
  const result: ValidateSpecResult = await run.env.run(a.validateSpec, { ...run.ref, specYaml: specYaml() });
  const { tenantId, taskId } = run.ref;
  assert.ok(result.specRef, 'validateSpec returns where it stored the spec');
  assert.equal(result.specRef?.artifactId, `spec/${tenantId}/${taskId}/${run.runId}`, 'stored once for the run');
  return result.specRef;
}

describe('governance: a spec reference is honoured only for the run that validated it', function () {
  this.timeout(60_000);

  it("a workflow started by an insider naming another task's spec reference is refused by every activity", async () => {
    const victim = taskRun();
    const spec = await validated(victim);
    const insider = taskRun();
    await assertAllRefuse(insider, spec, 'RecordMismatchError', /belongs to .* run .*, not /);
  });

  it("another run of the same task (started again, or reset) cannot use the first run's spec reference", async () => {
    const first = taskRun();
    const spec = await validated(first);
    await assertAllRefuse(taskRun(first.ref), spec, 'RecordMismatchError', new RegExp(`run ${first.runId}, not `));
  });

  it("a reference to the run's own artifact of another kind, or to one never stored, is refused", async () => {
    const run = taskRun();
    const bytes = Buffer.from(JSON.stringify({ scope: { in: ['**'], out: [] } }));
    const artifactId = `${run.ref.tenantId}/${run.ref.taskId}/${run.runId}/patch`;
    const digest = await storeArtifact(testStack().database.db, {
      id: artifactId,
      ...run.ref,
      runId: run.runId,
      kind: 'patch',
      bytes,
    });
    await assertAllRefuse(run, { artifactId, digest }, 'RecordMismatchError', /is a patch, not a spec/);
    await assertAllRefuse(run, { artifactId: `${artifactId}-none`, digest }, 'RecordMismatchError', /never stored/);
  });

  it('`temporal workflow reset` of a task in EXECUTING to before its agent ran: the new run validates again, works to its own spec and completes', async () => {
    const tenantId = uniqueId('specref');
    await addScriptedAgent(tenantId, [nodeStep('setTimeout(() => {}, 3000)'), ...GOOD_PLAN]);
    const input = { tenantId, taskId: uniqueId('task'), specYaml: specYaml(), repo: await registerRepo(tenantId) };
    const { runId } = await testStack().client.submit(input);
    const workflowId = taskWorkflowId(input);
    const first = testStack().client.temporal.workflow.getHandle(workflowId, runId);
    const scheduled = await waitFor('executeAgent to be scheduled', async () =>
      ((await first.fetchHistory()).events ?? []).find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'executeAgent',
      ),
    );
    const resetPoint = scheduled.activityTaskScheduledEventAttributes?.workflowTaskCompletedEventId;
    await resetRunTo(workflowId, runId, String(resetPoint), 'spec-refs test');
    const { runId: newRunId } = await testStack().client.temporal.workflow.getHandle(workflowId).describe();
    assert.notEqual(newRunId, runId, 'the reset started a new run');

    const final = await testStack()
      .client.temporal.workflow.getHandle<typeof taskLifecycle>(workflowId, newRunId)
      .result();

    // The validation result (the first run's, kept by the reset) names the first run's spec,
    // which every activity refuses for this run: it validated again, under the patch.
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    const history = await decodedHistory(workflowId);
    assert.ok(history.includes(`spec/${tenantId}/${input.taskId}/${runId}`), 'the first run stored the spec');
    assert.ok(history.includes(`spec/${tenantId}/${input.taskId}/${newRunId}`), 'the new run stored its own');
    assert.ok(history.includes(REVALIDATE_AFTER_RESET_PATCH), 'under the patch');
  });

  it('a stored spec altered after validation (its scope widened) no longer matches its digest and is refused', async () => {
    const run = taskRun();
    const spec = await validated(run);
    const { db } = testStack().database;
    const [row] = await db.select().from(artifacts).where(eq(artifacts.id, spec.artifactId));
    const stored = JSON.parse(Buffer.from(row.content, 'base64').toString('utf8')) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...stored, scope: { in: ['**'], out: [] } }));
    await db
      .update(artifacts)
      .set({ content: widened.toString('base64') })
      .where(eq(artifacts.id, spec.artifactId));
    await assertAllRefuse(run, spec, 'ArtifactDigestMismatchError', /does not match digest/);
  });
});
