/**
 * Cancellation and crash recovery against the real stack: a cancel stops the running activity
 * and ends CANCELLED; a worker process killed mid-task is replaced by another that finishes the
 * task without duplicating a single event.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { verdicts } from '../../db/schema';
import type { TaskInput, TaskSnapshot } from '../../domain/task';
import { loadOrCreateSigningKey } from '../../host/signing';
import { taskWorkflowId } from '../../temporal-config';
import {
  addScriptedAgent,
  gitIn,
  GOOD_PLAN,
  goodTaskInput,
  makeRepo,
  registerRepo,
  specYaml,
  taskInput,
  uniqueId,
} from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { traversableTempDir } from '../helpers/temp';
import { persistedEvents, waitFor, waitForState } from '../helpers/wait';
import { clientOnQueue, killHard, stopWorker, workerOutputTail, workerProcessPerTest } from '../helpers/worker-process';

/** The gate touches `beat` in its checkout every 100 ms until it is killed. */
async function slowTask(tenant: string, repo: string): Promise<TaskInput & { taskId: string; tenantId: string }> {
  await addScriptedAgent(tenant, GOOD_PLAN);
  return taskInput(tenant, repo, {
    // The tenant in the script names this gate's processes, so the test can see them die.
    gates: [{ name: 'slow', argv: ['sh', '-c', `while true; do date +%s%N > beat; sleep 0.1; done # ${tenant}`] }],
  });
}

/** A file gate `slow` writes in its own checkout of the verified tree, seen from the host. */
function inGateCheckout(home: string, input: { tenantId: string; taskId: string }, file: string): string {
  return path.join(home, 'workspaces', input.tenantId, input.taskId, 'gates', 'slow', file);
}

/**
 * The run itself ends Canceled, as Temporal's own tools see it (the Web UI, `ExecutionStatus`
 * queries), and the CANCELLED snapshot stays readable: by query, and by resubmitting.
 */
async function assertRunCanceled(input: TaskInput & { taskId: string; tenantId: string }): Promise<void> {
  const { client } = testStack();
  const workflowId = taskWorkflowId(input);
  const handle = client.temporal.workflow.getHandle(workflowId);
  const status = await waitFor('the run to close', async () => {
    const { name } = (await handle.describe()).status;
    return name === 'RUNNING' ? undefined : name;
  });
  assert.equal(status, 'CANCELLED', 'the run ends Canceled, not Completed');
  await waitFor('the run to be listed as Canceled', async () => {
    const query = `WorkflowId = "${workflowId}" AND ExecutionStatus = "Canceled"`;
    for await (const _ of client.temporal.workflow.list({ query })) return true;
    return false;
  });
  assert.equal((await client.status(input)).state, 'CANCELLED', 'getState still answers on the closed run');
  assert.equal((await client.submit(input)).ended, 'CANCELLED', 'resubmitting reports how the task ended');
}

describe('cancellation', function () {
  this.timeout(60_000);

  for (const how of [
    'cancel signal',
    'cancel signal sent by hand with no argument',
    'Temporal workflow cancellation',
  ] as const) {
    it(`moves a running task to CANCELLED and kills its gate process (${how})`, async () => {
      const { client } = testStack();
      const repo = makeRepo();
      const input = await slowTask(uniqueId('tenant'), repo);
      await client.submit(input);
      await waitForState(input, (s) => s.subState === 'gate:slow');
      const beat = inGateCheckout(testStack().home, input, 'beat');
      await waitFor('the gate to run', async () => existsSync(beat));

      const handle = client.temporal.workflow.getHandle(`task/${input.tenantId}/${input.taskId}`);
      if (how === 'cancel signal') await client.cancel(input, 'test cancel');
      else if (how === 'cancel signal sent by hand with no argument') await handle.signal('cancel');
      else await handle.cancel();
      const final = await client.watch(input, undefined, 200);

      assert.equal(final.state, 'CANCELLED');
      assert.deepEqual(final.history.map((h) => h.state).slice(-2), ['VERIFYING', 'CANCELLED']);
      // Its checkout is removed once the gate ends; what must be gone is every process of it.
      await waitFor(
        'the gate process to be killed',
        async () => !execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(input.tenantId),
        15_000,
      );
      await waitFor('the gate checkout to be removed', async () => !existsSync(beat), 15_000);
      const events = await persistedEvents(input);
      assert.equal(events.at(-1)?.toState, 'CANCELLED');
      assert.equal(gitIn(repo, 'branch', '--list', `arbiter/${input.taskId}`), '');
      await assertRunCanceled(input);
    });
  }

  it('refuses to cancel a finished task from the client side', async () => {
    const { client } = testStack();
    const input = await goodTaskInput();
    await client.submit(input);
    const done = await client.watch(input, undefined, 200);
    assert.equal(done.state, 'COMPLETED');
    await client.cancel(input).catch(() => undefined);
    const after = await client.status(input);
    assert.equal(after.state, 'COMPLETED', 'a completed task never becomes CANCELLED');
  });
});

describe('worker crash mid-task', function () {
  this.timeout(120_000);
  const spawnWorker = workerProcessPerTest();

  it('a worker on another host rebuilds the workspace when the first host is gone for good', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('lost-host-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo, {
      hostLossTimeoutSeconds: 3,
      gates: [{ name: 'slow', argv: ['sh', '-c', 'echo attempt >> attempts.log; sleep 3'] }],
    });
    const homeA = traversableTempDir('arbiter-host-a-');
    const marker = inGateCheckout(homeA, input, 'attempts.log');
    const child = await spawnWorker(taskQueue, homeA);
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      const running = await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
      await waitFor('gate to start on host A', async () => existsSync(marker));
      await killHard(child);

      const otherHost = await stack.startWorker(taskQueue, traversableTempDir('arbiter-host-b-'));
      try {
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        assert.notEqual(
          final.workspace?.hostQueue,
          running.workspace?.hostQueue,
          'the workspace moved to the other host',
        );
        assert.equal(final.workspace?.hostQueue, otherHost.worker.hostQueue);
        const events = await persistedEvents(input);
        assert.deepEqual(
          events.map((e) => e.toState),
          final.history.map((h) => h.state),
        );
        assert.equal(gitIn(repo, 'rev-parse', `arbiter/${input.taskId}^{tree}`), final.diff?.treeId);
      } finally {
        await stopWorker(otherHost);
      }
    } finally {
      await client.close();
    }
  });

  it('a second worker finishes the task with no duplicated events', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('crash-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo, {
      gates: [{ name: 'slow', argv: ['sh', '-c', 'date +%s%N > started; sleep 3'] }],
    });
    const marker = inGateCheckout(stack.home, input, 'started');

    const child = await spawnWorker(taskQueue, stack.home);

    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      await waitForState(input, (s) => s.subState === 'gate:slow', 60_000);
      const first = await waitFor(
        'gate to start in the child worker',
        async () => existsSync(marker) && readFileSync(marker, 'utf8'),
      );
      await killHard(child);

      const replacement = await stack.startWorker(taskQueue);
      try {
        // Each attempt gets a fresh checkout, so a second start shows as a new timestamp.
        await waitFor(
          'the gate to run again on the second worker',
          async () => readFileSync(marker, 'utf8') !== first,
          60_000,
        );
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        const events = await persistedEvents(input);
        assert.deepEqual(
          events.map((e) => e.seq),
          final.history.map((_, i) => i),
          'one event per transition, none twice',
        );
        assert.deepEqual(
          events.map((e) => e.toState),
          final.history.map((h) => h.state),
        );
        assert.equal(gitIn(repo, 'rev-parse', `arbiter/${input.taskId}`), final.delivery?.commit);
      } finally {
        await stopWorker(replacement);
      }
    } finally {
      await client.close();
    }
  });
});

/** Opens `fifo` for writing only once something reads it (the open fails while nothing does). */
function writerOnceRead(fifo: string): number | undefined {
  try {
    return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

describe('worker crash while preparing a workspace', function () {
  this.timeout(180_000);
  const spawnWorker = workerProcessPerTest();

  it("the dead worker's prepareWorkspace is retried elsewhere within its heartbeat timeout, not after 15 minutes", async () => {
    const stack = testStack();
    const taskQueue = uniqueId('prepare-queue');
    const input = await goodTaskInput();
    const homeA = traversableTempDir('arbiter-host-a-');
    // On host A the task's uid lease note is a FIFO: preparing the workspace there blocks reading it.
    const root = path.join(homeA, 'workspaces', input.tenantId, input.taskId);
    mkdirSync(root, { recursive: true });
    const fifo = path.join(root, 'sandbox-uid');
    execFileSync('mkfifo', [fifo]);
    const child = await spawnWorker(taskQueue, homeA);
    const client = await clientOnQueue(taskQueue);
    try {
      await client.submit(input);
      const writer = await waitFor(
        'prepareWorkspace to be in progress on host A',
        async () => writerOnceRead(fifo),
        60_000,
      );
      await killHard(child);
      closeSync(writer);
      const killedAt = Date.now();
      const otherHost = await stack.startWorker(taskQueue, traversableTempDir('arbiter-host-b-'));
      try {
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        assert.equal(final.workspace?.hostQueue, otherHost.worker.hostQueue);
        const waited = Date.now() - killedAt;
        assert.ok(waited < 90_000, `finished ${waited} ms after the kill`);
      } finally {
        await stopWorker(otherHost);
      }
    } finally {
      await client.close();
    }
  });
});

describe('two workers on one task queue', function () {
  this.timeout(240_000);
  const spawnWorker = workerProcessPerTest();

  it('share the tasks; when one host dies the other finishes every task, each with one verdict', async () => {
    const stack = testStack();
    const taskQueue = uniqueId('pair-queue');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = await registerRepo(tenant, makeRepo());
    const inputs = Array.from({ length: 8 }, () => ({
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo,
      hostLossTimeoutSeconds: 3,
      gates: [{ name: 'slow', argv: ['sleep', '4'] }],
    }));
    // One deployment, one signing key: either host may deliver what the other signed.
    const signingKeyFile = path.join(traversableTempDir('arbiter-pair-key-'), 'verdict-signing.pem');
    loadOrCreateSigningKey(signingKeyFile);
    const child = await spawnWorker(taskQueue, traversableTempDir('arbiter-host-a-'), {
      ARBITER_SIGNING_KEY_FILE: signingKeyFile,
    });
    const hostB = await stack.startWorker(taskQueue, traversableTempDir('arbiter-host-b-'), { signingKeyFile });
    const client = await clientOnQueue(taskQueue);
    try {
      await Promise.all(inputs.map((input) => client.submit(input)));
      // Host B has taken tasks, and host A holds one mid-gate; then host A dies without a word.
      const survivor = hostB.worker.hostQueue;
      let last: TaskSnapshot[] = [];
      let bTookOne = false;
      const atKill = await waitFor(
        'host B to take a task while host A holds one in flight',
        async () => {
          if (child.exitCode !== null || child.signalCode !== null) return 'host A exited';
          last = await Promise.all(inputs.map((input) => client.status(input)));
          bTookOne ||= last.some((s) => s.workspace?.hostQueue === survivor);
          const aMidGate = last.some((s) => s.subState === 'gate:slow' && s.workspace?.hostQueue !== survivor);
          return bTookOne && aMidGate && last;
        },
        120_000,
      ).catch((err: Error) => {
        const where = last.map((s) => `${s.taskId} ${s.state}/${s.subState ?? ''} on ${s.workspace?.hostQueue}`);
        throw new Error(`${err.message}\n${where.join('\n')}\nhost A printed:\n${workerOutputTail(child)}`);
      });
      assert.notEqual(atKill, 'host A exited', `host A exited before the kill:\n${workerOutputTail(child)}`);
      await killHard(child);
      const snaps = atKill as TaskSnapshot[];
      const strandedOnA = snaps.filter(
        (s) => s.workspace && s.workspace.hostQueue !== survivor && s.state !== 'COMPLETED',
      );
      assert.ok(strandedOnA.length > 0, 'host A held tasks in flight when it died');

      const finals: TaskSnapshot[] = await Promise.all(inputs.map((input) => client.watch(input, undefined, 500)));
      for (const [i, final] of finals.entries()) {
        assert.equal(final.state, 'COMPLETED', `${final.taskId}: ${JSON.stringify(final.error)}`);
        if (strandedOnA.some((s) => s.taskId === final.taskId))
          assert.equal(final.workspace?.hostQueue, survivor, 'rebuilt and finished on the surviving host');
        const rows = await stack.database.db
          .select()
          .from(verdicts)
          .where(and(eq(verdicts.tenantId, tenant), eq(verdicts.taskId, inputs[i].taskId)));
        assert.equal(rows.length, 1, `${final.taskId}: one verdict`);
        const events = await persistedEvents(inputs[i]);
        assert.deepEqual(
          events.map((e) => e.seq),
          final.history.map((_, n) => n),
          `${final.taskId}: one event per transition, none twice`,
        );
      }
    } finally {
      await client.close();
      await stopWorker(hostB);
    }
  });
});
