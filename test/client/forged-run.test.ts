/**
 * Attack (found in review): anyone who may write to the namespace can end a task's real run and
 * start workflow code of their own under its workflow id, answering `getState`, `awaitTransition`
 * and the waiver updates as they like. The CLI showed a forged COMPLETED with a PASS verdict and a
 * delivery (exit 0) while Arbiter's record said VERIFYING with no verdict, and a COMPLETED it wrote
 * into the record itself through Arbiter's `recordTransition`; `approve` sent a decision signed for
 * the real run to the run answering. Now what the CLI reports as success needs the verdict and the
 * delivery only Arbiter's steps record, a decision goes to the run it was signed for alone, and
 * `approve` / `reject` read only tasks the CLI's database role may see. A later review answered
 * with another task's real COMPLETED snapshot, whose verdict and delivery the record holds for that
 * task: the record was read under the ids the answer names. Now an answer naming another task is
 * refused, and the record read is the named task's.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { ensureLoginRole } from '../../db/login-roles';
import { grantTenant } from '../../db/repos';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { recordMismatches } from '../../client/cli/recorded-task';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';
import { taskAwaitingWaiver } from '../helpers/approvers';
import { arbiter, cliEnv } from '../helpers/cli';
import { taskInput, uniqueId } from '../helpers/fixtures';
import { runToEnd } from '../helpers/tasks';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';
import type { ForgedInput } from './forged-workflows';

/** The insider's move: terminate the task's real run, start their own code under the same workflow id. */
async function takeOver(ref: TaskRef, taskQueue: string, args: ForgedInput) {
  const { client } = testStack();
  const workflowId = taskWorkflowId(ref);
  await client.temporal.workflow.getHandle(workflowId).terminate('insider');
  return client.temporal.workflow.start('forgedTask', { workflowId, taskQueue, args: [args] });
}

/** `status` and `watch` of `ref`, each of which must fail (exit 1); `check` reads what each said. */
async function failsStatusAndWatch(ref: TaskRef, check: (stderr: string, command: string) => void) {
  for (const command of ['status', 'watch']) {
    const r = await arbiter([command, `${ref.tenantId}/${ref.taskId}`], cliEnv());
    assert.equal(r.code, 1, `${command}: ${r.stdout}`);
    check(r.stderr, command);
  }
}

/** Lets the forged run end, then `submit --wait` of the same task id, which attaches to it. */
async function resubmitAfter(input: TaskInput, forged: WorkflowHandle) {
  await forged.signal('finish');
  await forged.result();
  const spec = path.join(tempDir('arbiter-forged-'), 'spec.yaml');
  writeFileSync(spec, input.specYaml);
  return arbiter(
    ['submit', spec, '--repo', input.repo, '--tenant', input.tenantId, '--task-id', input.taskId, '--wait'],
    cliEnv(),
  );
}

const approveArgs = (ref: TaskRef, keyFile: string) => [
  'approve',
  `${ref.tenantId}/${ref.taskId}`,
  '--approver',
  'alice',
  '--key',
  keyFile,
  '--reason-code',
  'architectural_refactor',
  '--expires-in',
  '72h',
];

describe('client: a run answering under a task id is held to what Arbiter recorded', function () {
  this.timeout(240_000);
  const queue = uniqueId('forged-queue');
  let worker: Worker;
  let running: Promise<void>;

  before(async () => {
    const stack = testStack();
    worker = await Worker.create({
      connection: stack.env.nativeConnection,
      namespace: stack.env.namespace ?? 'default',
      taskQueue: queue,
      workflowsPath: require.resolve('./forged-workflows'),
      shutdownGraceTime: '1s',
    });
    running = worker.run();
  });

  after(async () => {
    worker.shutdown();
    await running;
  });

  it('status, watch and submit --wait fail a forged COMPLETED with a PASS verdict and a delivery', async () => {
    const { input, waiting } = await taskAwaitingWaiver();
    const forged: TaskSnapshot = {
      ...waiting,
      state: 'COMPLETED',
      pendingWaiver: null,
      verdict: { outcome: 'PASS', digest: `sha256:${'f'.repeat(64)}` },
      delivery: { branch: `arbiter/${input.taskId}`, commit: 'e'.repeat(40) },
    };
    const handle = await takeOver(input, queue, { snapshots: [forged], final: forged });
    await failsStatusAndWatch(input, (stderr, command) => {
      assert.match(stderr, /not Arbiter's record: the record says VERIFYING/, command);
      assert.match(stderr, /no PASS verdict sha256:f+ is recorded/);
      assert.match(stderr, /no delivery to arbiter\/.* is recorded/);
    });
    const submitted = await resubmitAfter(input, handle);
    assert.equal(submitted.code, 1, submitted.stdout);
    assert.match(submitted.stderr, /not Arbiter's record/);
  });

  it("status, watch and submit --wait fail another task's real COMPLETED answered under this task's id", async () => {
    const { input, tenant } = await taskAwaitingWaiver();
    const done = await runToEnd(await taskInput(tenant));
    assert.equal(done.state, 'COMPLETED', JSON.stringify(done.error));
    // Its verdict and delivery are recorded, for its own task: looked up by the snapshot's ids, they passed.
    const forged: TaskSnapshot = { ...done, workflowId: taskWorkflowId(input) };
    const handle = await takeOver(input, queue, { snapshots: [forged], final: forged });
    await failsStatusAndWatch(input, (stderr, command) =>
      assert.match(stderr, new RegExp(`answered for '${done.tenantId}/${done.taskId}`), command),
    );
    const submitted = await resubmitAfter(input, handle);
    assert.equal(submitted.code, 1, submitted.stdout);
    assert.match(submitted.stderr, /it is not Arbiter's run of this task/);
    // The record check asks about the task named, not the one the answer names.
    assert.deepEqual(await recordMismatches(input, forged), [
      `the answer describes another task (${done.tenantId}/${done.taskId}, ${forged.workflowId})`,
    ]);
  });

  it('a run answering COMPLETED cannot write it into the record with no verdict, and status and watch fail it', async () => {
    const { input, waiting } = await taskAwaitingWaiver();
    const forged: TaskSnapshot = { ...waiting, state: 'COMPLETED', pendingWaiver: null, verdict: null, delivery: null };
    const { client, taskQueue } = testStack();
    await client.temporal.workflow.getHandle(taskWorkflowId(input)).terminate('insider');
    const handle = await client.temporal.workflow.start('forgedRecorder', {
      workflowId: taskWorkflowId(input),
      taskQueue: queue,
      args: [{ snapshots: [forged], final: forged, arbiterQueue: taskQueue, ...input }],
    });
    const recorded = async () =>
      (
        await testStack().database.pool.query<{ state: string }>(
          'SELECT state FROM tasks WHERE tenant_id = $1 AND id = $2',
          [input.tenantId, input.taskId],
        )
      ).rows[0]?.state;
    const refusal = async () => handle.query<string | null>('recordRefused').catch(() => null);
    for (let i = 0; i < 100 && !(await refusal()); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match((await refusal()) ?? '', /COMPLETED stating verdict PASS: run \S+ of \S+ has none/);
    assert.equal(await recorded(), 'VERIFYING', 'the record stays as Arbiter’s run left it');
    await failsStatusAndWatch(input, (stderr, command) => assert.match(stderr, /record/, command));
    await handle.terminate('test over');
  });

  it('approve sends a decision to the run it was signed for alone', async () => {
    const { input, waiting, keys } = await taskAwaitingWaiver();
    const shown = { ...waiting, pendingWaiver: { ...waiting.pendingWaiver!, delta: { maxFiles: 1, maxLoc: 0 } } };
    // The request names the ended real run: the decision goes there (and fails), not to the run answering.
    const forged = await takeOver(input, queue, { snapshots: [shown] });
    const sent = await arbiter(approveArgs(input, keys.alice.keyFile), cliEnv());
    assert.equal(sent.code, 1, sent.stdout);
    assert.deepEqual(await forged.query('captured'), [], 'the run answering received no signature');
    await forged.terminate('test over');
  });

  it('approve and reject read only a task the database role may see', async () => {
    const { input, keys } = await taskAwaitingWaiver();
    const { database, databaseUrl } = testStack();
    const role = `cli_${uniqueId('forged').replace(/-/g, '_')}`;
    const url = await ensureLoginRole(database.pool, databaseUrl, role, 'arbiter_cli');
    assert.equal(await grantTenant(database.db, role, uniqueId('other')), true);
    const env = { ...cliEnv(), DATABASE_URL: url, ARBITER_ADMIN_DATABASE_URL: '' };
    try {
      const reject = ['reject', `${input.tenantId}/${input.taskId}`, '--approver', 'alice', '--reason', 'no'];
      for (const args of [
        [...approveArgs(input, keys.alice.keyFile), '--print'],
        [...reject, '--key', keys.alice.keyFile],
      ]) {
        const r = await arbiter(args, env);
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`);
        assert.match(r.stderr, /no task with workflow id/);
        assert.equal(r.stdout, '', 'nothing of the request is printed');
      }
    } finally {
      await database.pool.query('DELETE FROM tenant_members WHERE role_name = $1', [role]);
      await database.pool.query(`DROP OWNED BY "${role}"`);
      await database.pool.query(`DROP ROLE "${role}"`);
    }
  });
});
