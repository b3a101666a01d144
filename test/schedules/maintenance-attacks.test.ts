/**
 * The maintenance workflows as an insider would start them by hand, with any input
 * (workflows/maintenance.ts): a sweep aimed at something that is not a host queue, or a path,
 * fails before any step and deletes nothing; the sweep step itself refuses off its worker's own
 * host queue; waiver expiry and checkpoints take no clock, tenant or key from their input. And
 * the expiry step sets the `arbiter_waivers_expiring_soon` gauge.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, noopMetricMeter, type MetricGauge, type MetricMeter } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import { createMaintenanceActivities, NOT_THIS_HOST_ERROR } from '../../activities/maintenance';
import { waivers } from '../../db/schema';
import type { WaiverExpiryResult } from '../../domain/maintenance';
import { retainWorkspace } from '../../host/workspace-retention';
import { hostTaskQueue } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';

/** Starts `workflowType` by hand on the shared queue and returns why it failed (it must fail). */
async function failureOf(workflowType: string, args: unknown[]): Promise<ApplicationFailure> {
  const temporal = testStack().client.temporal;
  const handle = await temporal.workflow.start(workflowType, {
    taskQueue: testStack().taskQueue,
    workflowId: uniqueId(`by-hand-${workflowType}`),
    args,
  });
  const err = await handle.result().then(
    (r) => assert.fail(`${workflowType}(${JSON.stringify(args).slice(0, 80)}) succeeded: ${JSON.stringify(r)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ApplicationFailure, String(err));
  const { events } = await handle.fetchHistory();
  assert.ok(!events?.some((e) => e.activityTaskScheduledEventAttributes), 'no step was scheduled');
  return err.cause;
}

/** An expired retained workspace under `home`: what a successful hostile sweep would delete. */
async function expiredWorkspace(home: string): Promise<string> {
  const root = path.join(home, 'workspaces', uniqueId('canary'), 'task');
  mkdirSync(path.join(root, 'tree'), { recursive: true });
  await retainWorkspace(root, new Date(Date.now() - 1000));
  return root;
}

describe('maintenance workflows started by hand', function () {
  this.timeout(120_000);

  it('a sweep aimed at something that is not a host queue of its task queue fails before any step', async () => {
    const queue = testStack().taskQueue;
    const canary = await expiredWorkspace(testStack().home);
    const hostile = [
      '../../etc',
      '/etc/passwd',
      queue,
      `${queue}/host/`,
      `${queue}/host/../../..`,
      `${queue}/host/abc/def`,
      `${queue}/host/abc\n`,
      `${queue}/host/${'a'.repeat(65)}`,
      hostTaskQueue('another-deployment', 'abc123'),
      'x'.repeat(100_000),
    ];
    for (const hostQueue of hostile) {
      const failure = await failureOf('sweepWorkspacesWorkflow', [{ hostQueue }]);
      assert.equal(failure.type, 'InvalidTaskInputError', `${hostQueue.slice(0, 40)}: ${failure.message}`);
    }
    for (const args of [[{ hostQueue: hostTaskQueue(queue, 'abc'), home: '/' }], [{}], [], ['/']]) {
      const failure = await failureOf('sweepWorkspacesWorkflow', args);
      assert.equal(failure.type, 'InvalidTaskInputError', JSON.stringify(args));
    }
    assert.ok(existsSync(canary), 'nothing was swept');
  });

  it("the sweep step refuses to run off its worker's own host queue, sweeping nothing", async () => {
    const home = testStack().home;
    const canary = await expiredWorkspace(home);
    const hostQueue = hostTaskQueue(testStack().taskQueue, 'this-host');
    const { sweepRetainedWorkspaces } = createMaintenanceActivities(testActivityDeps({ home, hostQueue }));
    for (const taskQueue of [testStack().taskQueue, hostTaskQueue(testStack().taskQueue, 'other-host')]) {
      const env = new MockActivityEnvironment({ taskQueue }, { logger: SILENT_LOGGER });
      await assert.rejects(
        env.run(sweepRetainedWorkspaces),
        (err: unknown) => err instanceof ApplicationFailure && err.type === NOT_THIS_HOST_ERROR && err.nonRetryable,
      );
    }
    assert.ok(existsSync(canary), 'nothing was swept');
  });

  it('waiver expiry takes no clock or tenant filter from its input: an unexpired waiver stays active', async () => {
    const db = testStack().database.db;
    const tenantId = uniqueId('tenant');
    const expiresAt = new Date(Date.now() + 3_600_000);
    await db.insert(waivers).values({ tenantId, id: 'WV-0001', reasonCode: 'other', expiresAt });
    const hostile = [
      [{ now: '2999-01-01T00:00:00Z' }],
      [{ tenantId }],
      [{ at: Date.now() + 10 * 3_600_000, tenants: [tenantId] }],
      [{ expiresBefore: '2999-01-01T00:00:00Z' }],
      ['2999-01-01T00:00:00Z'],
      [null],
    ];
    for (const args of hostile) {
      const failure = await failureOf('expireWaiversWorkflow', args);
      assert.equal(failure.type, 'InvalidTaskInputError', JSON.stringify(args));
    }
    // A well-formed run, started by hand, uses the worker's clock: the waiver is not due.
    const run = await testStack().client.temporal.workflow.execute('expireWaiversWorkflow', {
      taskQueue: testStack().taskQueue,
      workflowId: uniqueId('by-hand-expiry'),
      args: [{}],
    });
    assert.ok((run as { expiringSoon: number }).expiringSoon >= 1);
    const [row] = await db.select().from(waivers).where(eq(waivers.tenantId, tenantId));
    assert.equal(row.status, 'active');
  });

  it('a provenance checkpoint takes no key, tenant or path from its input', async () => {
    for (const args of [[{ keyFile: '/tmp/evil.pem' }], [{ tenantId: 'default' }], [{ signingKey: 'x' }]]) {
      const failure = await failureOf('checkpointProvenanceWorkflow', args);
      assert.equal(failure.type, 'InvalidTaskInputError', JSON.stringify(args));
    }
  });

  it('the expiry step sets the arbiter_waivers_expiring_soon gauge to the active waivers expiring within 24 h', async () => {
    const db = testStack().database.db;
    const tenantId = uniqueId('tenant');
    const at = (hours: number) => new Date(Date.now() + hours * 3_600_000);
    const gauges: Array<{ name: string; valueType?: string; description?: string; values: number[] }> = [];
    const meter: MetricMeter = {
      ...noopMetricMeter,
      createCounter: (...a) => noopMetricMeter.createCounter(...a),
      createHistogram: (...a) => noopMetricMeter.createHistogram(...a),
      createGauge(name, valueType, unit, description) {
        const gauge = { name, valueType, description, values: [] as number[] };
        gauges.push(gauge);
        const metric: MetricGauge = {
          ...noopMetricMeter.createGauge(name, valueType, unit, description),
          set: (v: number) => void gauge.values.push(v),
        };
        return metric;
      },
      withTags: () => meter,
    };
    const { expireWaivers } = createMaintenanceActivities(testActivityDeps());
    const env = new MockActivityEnvironment({}, { metricMeter: meter, logger: SILENT_LOGGER });
    const expire = () => env.run(expireWaivers) as Promise<WaiverExpiryResult>;
    const before = await expire();
    await db.insert(waivers).values(
      [at(1), at(23), at(25), at(-1)].map((expiresAt, i) => ({
        tenantId,
        id: `WV-000${i}`,
        reasonCode: 'other',
        expiresAt,
      })),
    );
    const result = await expire();
    const soon = gauges.filter((g) => g.name === 'arbiter_waivers_expiring_soon');
    assert.deepEqual(
      soon.map(({ valueType, description, values }) => ({ valueType, description, values })),
      [before, result].map((r) => ({
        valueType: 'int',
        description: 'active waivers expiring within 24 hours',
        values: [r.expiringSoon],
      })),
    );
    const checked = gauges.filter((g) => g.name === 'arbiter_waiver_expiry_checked_timestamp_seconds');
    assert.equal(checked.length, 2, 'each run says when it counted');
    for (const g of checked) assert.ok(Math.abs(g.values[0] - Date.now() / 1000) < 60, `a Unix time: ${g.values[0]}`);
    assert.equal(result.expiringSoon - before.expiringSoon, 2, 'the 1 h and 23 h waivers count; 25 h and past do not');
    assert.equal(result.expired, 1, 'the one past its expiry');
    const rows = await db.select().from(waivers).where(eq(waivers.tenantId, tenantId)).orderBy(waivers.id);
    assert.deepEqual(
      rows.map((r) => r.status),
      ['active', 'active', 'active', 'expired'],
    );
  });
});
