/**
 * Arbiter's periodic work as Temporal Schedules (workers/schedules.ts): created idempotently at
 * worker start, visible with `temporal schedule list`, a pause kept across a second ensure, and
 * each schedule's workflow doing its real work when triggered: a waiver past its expiry becomes
 * `expired`, a checkpoint row appears (a broken chain is refused, not signed), and an expired
 * workspace on the host's own disk is removed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client, ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import { eq } from 'drizzle-orm';
import { temporalCliPath } from '../../client/paths';
import { provenanceCheckpoints, tasks, waivers } from '../../db/schema';
import { retainWorkspace } from '../../host/workspace-retention';
import { hostTaskQueue } from '../../temporal-config';
import {
  ensureArbiterSchedules,
  PROVENANCE_CHECKPOINT_SCHEDULE_ID,
  WAIVER_EXPIRY_SCHEDULE_ID,
  workspaceRetentionScheduleId,
} from '../../workers/schedules';
import { uniqueId } from '../helpers/fixtures';
import { appendEvents, rewriteConsistently, stackKey } from '../helpers/provenance';
import { testStack } from '../helpers/stack';
import { takeCheckpoint } from '../../db/provenance-checkpoints';

const run = promisify(execFile);

/** `temporal …` against the test server. */
function temporalCli(...args: string[]) {
  return run(temporalCliPath(), [...args, '--address', testStack().address, '--namespace', 'default']);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Triggers the schedule and returns the result of the workflow run that trigger started. */
async function triggerAndWait(client: Client, handle: ScheduleHandle): Promise<unknown> {
  const before = new Set((await handle.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
  await handle.trigger(ScheduleOverlapPolicy.ALLOW_ALL);
  const started = await until(`a run of ${handle.scheduleId}`, async () => {
    const actions = (await handle.describe()).info.recentActions;
    return actions.map((a) => a.action.workflow).find((w) => !before.has(w.workflowId));
  });
  return client.workflow.getHandle(started.workflowId, started.firstExecutionRunId).result();
}

describe('schedules: periodic work created at worker start', function () {
  this.timeout(120_000);
  let client: Client;
  // The shared test worker is the host: its home, its host queue, its signing key.
  const hostId = () => readFileSync(path.join(testStack().home, 'worker-id'), 'utf8').trim();
  const hostQueue = () => hostTaskQueue(testStack().taskQueue, hostId());
  const ensure = () =>
    ensureArbiterSchedules({ client, taskQueue: testStack().taskQueue, hostQueue: hostQueue(), hostId: hostId() });
  const ids = () => [
    workspaceRetentionScheduleId(hostId()),
    WAIVER_EXPIRY_SCHEDULE_ID,
    PROVENANCE_CHECKPOINT_SCHEDULE_ID,
  ];

  before(() => {
    // The worker's NativeConnection serves a Client as it is (SDK 1.24: it implements ConnectionLike).
    client = new Client({ connection: testStack().env.nativeConnection, namespace: 'default' });
  });
  // Left running, they fire at the top of every hour under whatever test runs then.
  after(async () => {
    for (const id of ids())
      await client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
  });

  it("a worker's start creates them (the shared test worker starts without)", async () => {
    // On a queue of its own: a second worker of the shared queue and home would share its host queue.
    const started = await testStack().startWorker(uniqueId('schedules-start'), testStack().home, { schedules: true });
    started.worker.shutdown();
    await started.running;
    try {
      for (const id of ids()) assert.ok(await client.schedule.getHandle(id).describe(), id);
    } finally {
      // They name that worker's queue: the tests below ensure them again for the shared one.
      for (const id of ids()) await client.schedule.getHandle(id).delete();
    }
  });

  it('creates each schedule once: a second ensure finds them and errs on nothing; `temporal schedule list` shows them', async () => {
    const first = await ensure();
    const second = await ensure();
    assert.deepEqual([...first.created, ...first.existing].sort(), ids().sort());
    assert.deepEqual(second, { created: [], existing: ids() });
    const listed = await until('the schedules in the visibility store', async () => {
      const all: string[] = [];
      for await (const s of client.schedule.list()) all.push(s.scheduleId);
      return ids().every((id) => all.includes(id)) ? all : undefined;
    });
    for (const id of ids()) assert.equal(listed.filter((s) => s === id).length, 1, `one ${id}`);
    for (const id of ids()) {
      const d = await client.schedule.getHandle(id).describe();
      assert.equal(d.policies.overlap, ScheduleOverlapPolicy.SKIP, id);
    }
    const cli = await until('`temporal schedule list` to show them', async () => {
      const { stdout } = await temporalCli('schedule', 'list');
      return ids().every((id) => stdout.includes(id)) ? stdout : undefined;
    });
    assert.match(cli, /arbiter-waiver-expiry/);
  });

  it('leaves a schedule an operator paused with `temporal schedule toggle --pause` paused after another ensure', async () => {
    await ensure();
    const id = PROVENANCE_CHECKPOINT_SCHEDULE_ID;
    await temporalCli('schedule', 'toggle', '--schedule-id', id, '--pause', '--reason', 'maintenance window');
    try {
      assert.deepEqual((await ensure()).created, []);
      const state = (await client.schedule.getHandle(id).describe()).state;
      assert.equal(state.paused, true, 'still paused after a worker restart ensured it');
      assert.match(state.note ?? '', /maintenance window/);
    } finally {
      await temporalCli('schedule', 'toggle', '--schedule-id', id, '--unpause', '--reason', 'done');
    }
  });

  it('waiver expiry: a triggered run marks an active waiver past expiry expired and leaves the rest alone', async () => {
    await ensure();
    const db = testStack().database.db;
    const tenantId = uniqueId('tenant');
    const row = (id: string, expiresAt: Date, status = 'active') => ({
      tenantId,
      id,
      reasonCode: 'other',
      status,
      expiresAt,
    });
    const hour = 3_600_000;
    await db
      .insert(waivers)
      .values([
        row('WV-0001', new Date(Date.now() - 1000)),
        row('WV-0002', new Date(Date.now() + hour)),
        row('WV-0003', new Date(Date.now() + 48 * hour)),
        row('WV-0004', new Date(Date.now() - hour), 'revoked'),
      ]);
    const result = (await triggerAndWait(client, client.schedule.getHandle(WAIVER_EXPIRY_SCHEDULE_ID))) as {
      expired: number;
      expiringSoon: number;
    };
    assert.ok(result.expiringSoon >= 1, JSON.stringify(result));
    const rows = await db.select().from(waivers).where(eq(waivers.tenantId, tenantId)).orderBy(waivers.id);
    assert.deepEqual(
      rows.map((r) => [r.id, r.status]),
      [
        ['WV-0001', 'expired'],
        ['WV-0002', 'active'],
        ['WV-0003', 'active'],
        ['WV-0004', 'revoked'],
      ],
    );
  });

  it("provenance checkpoint: a triggered run signs every tenant's head and refuses a rewritten chain", async () => {
    await ensure();
    const db = testStack().database.db;
    const fresh = uniqueId('ckpt');
    await appendEvents(fresh, 3);
    const broken = uniqueId('ckpt');
    await appendEvents(broken, 3);
    assert.ok((await takeCheckpoint(db, stackKey().signer, broken)).ok);
    await rewriteConsistently(broken, 1, { rewritten: true });
    await appendEvents(broken, 1, 3);
    const result = (await triggerAndWait(client, client.schedule.getHandle(PROVENANCE_CHECKPOINT_SCHEDULE_ID))) as {
      refused: string[];
      refusedCount: number;
    };
    const rows = (tenantId: string) =>
      db.select().from(provenanceCheckpoints).where(eq(provenanceCheckpoints.tenantId, tenantId));
    const signed = await rows(fresh);
    assert.deepEqual(
      signed.map((r) => [r.seq, r.keyId]),
      [[2, stackKey().signer.keyId]],
      'the head of the new chain, signed by the worker key',
    );
    assert.deepEqual(
      (await rows(broken)).map((r) => r.seq),
      [2],
      'nothing signed over the rewritten chain',
    );
    assert.ok(result.refusedCount >= 1);
    if (result.refusedCount <= result.refused.length) assert.ok(result.refused.includes(broken));
  });

  it('workspace retention: the host sweep removes its expired workspace and an ended task’s orphan, keeping the rest', async () => {
    await ensure();
    const tenantId = uniqueId('tenant');
    const tenantDir = path.join(testStack().home, 'workspaces', tenantId);
    const [expired, kept, orphan, running] = ['old-task', 'new-task', 'ended-task', 'running-task'].map((t) =>
      path.join(tenantDir, t),
    );
    for (const dir of [expired, kept, orphan, running]) mkdirSync(path.join(dir, 'tree'), { recursive: true });
    await retainWorkspace(expired, new Date(Date.now() - 1000));
    await retainWorkspace(kept, new Date(Date.now() + 3_600_000));
    // Unmarked, as a stalled preparation leaves one after its retry built the task elsewhere.
    const dayAndMore = new Date(Date.now() - 30 * 3_600_000); // past the worker's retention, 24 h
    await testStack()
      .database.db.insert(tasks)
      .values([
        { tenantId, id: 'ended-task', workflowId: 'w1', state: 'COMPLETED', updatedAt: dayAndMore },
        // No run of it is open (no workflow was started), but its record changed within the grace.
        { tenantId, id: 'running-task', workflowId: 'w2', state: 'EXECUTING', updatedAt: new Date() },
      ]);
    const result = await triggerAndWait(client, client.schedule.getHandle(workspaceRetentionScheduleId(hostId())));
    const { hostQueue: swept, removed } = result as { hostQueue: string; removed: number };
    assert.equal(swept, hostQueue());
    assert.ok(removed >= 2, 'these two at least (other tests leave expired workspaces on this host too)');
    assert.equal(existsSync(expired), false, 'expired workspace removed');
    assert.equal(existsSync(kept), true, 'retained workspace kept');
    assert.equal(existsSync(orphan), false, 'the unmarked workspace of a task ended 30 hours ago removed');
    assert.equal(existsSync(running), true, 'the unmarked workspace of a task recorded lately kept');
  });
});
