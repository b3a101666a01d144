/**
 * Safe deploys with Worker Deployment Versioning: a task started on build b1 stays on b1 to its
 * end after b2 becomes the current version, so b2 never replays a history b1 wrote; a task
 * started after the switch runs on b2 alone. The first build makes itself current (nothing was),
 * and a build started with `when-unset` does not take over from a current one.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { taskWorkflowId } from '../../temporal-config';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { codeAndBuild, type DeploymentConfig } from '../../workers/deployment';
import { addScriptedAgent, GOOD_PLAN, taskInput, tempDir, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor, waitForState } from '../helpers/wait';
import { clientOnQueue, stopWorker } from '../helpers/worker-process';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The build ids that completed the run's workflow tasks, in order. */
function buildsOf(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const a = e.workflowTaskCompletedEventAttributes;
    return a ? [a.deploymentVersion?.buildId ?? a.workerVersion?.buildId ?? '(unversioned)'] : [];
  });
}

describe('worker deployment versioning', function () {
  this.timeout(180_000);

  it('names an `auto` build after its workflow code: the same code the same build, other code another', async () => {
    const { bundle } = testStack();
    const auto: DeploymentConfig = { name: 'arbiter', buildId: 'auto', promote: 'always', behavior: 'pinned' };
    const built = await codeAndBuild(auto, bundle);
    assert.equal(built.bundle, bundle);
    assert.match(built.deployment?.buildId ?? '', /^wf-[0-9a-f]{16}$/);
    assert.equal((await codeAndBuild(auto, bundle)).deployment?.buildId, built.deployment?.buildId);
    const changed = await codeAndBuild(auto, { ...bundle, code: `${bundle.code}\n// changed` });
    assert.notEqual(changed.deployment?.buildId, built.deployment?.buildId);
    const named = await codeAndBuild({ ...auto, buildId: 'v7' }, bundle);
    assert.equal(named.deployment?.buildId, 'v7', 'a named build keeps its name');
  });

  it('names an `auto` build the same when the worker starts from another directory', async () => {
    const script = `require(${JSON.stringify(require.resolve('../../workers/deployment'))})
      .codeAndBuild({ name: 'arbiter', buildId: 'auto', promote: 'never', behavior: 'pinned' })
      .then((r) => { console.log(r.deployment.buildId); process.exit(0); })`;
    const idFrom = async (cwd: string) =>
      (await promisify(execFile)(process.execPath, ['-e', script], { cwd, timeout: 60_000 })).stdout.trim();
    const [here, elsewhere] = [await idFrom(process.cwd()), await idFrom(tempDir('build-id-cwd-'))];
    assert.match(here, /^wf-[0-9a-f]{16}$/);
    assert.equal(elsewhere, here);
  });

  it('keeps a running task on its build after a new build becomes current; new tasks go to the new build', async () => {
    const stack = testStack();
    const conn = stack.env.nativeConnection;
    const name = uniqueId('arbiter');
    const taskQueue = uniqueId('versioned');
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const deployment = (buildId: string, promote: DeploymentConfig['promote']): DeploymentConfig => ({
      name,
      buildId,
      promote,
      behavior: 'pinned',
    });
    const current = async () =>
      (await conn.workflowService.describeWorkerDeployment({ namespace: 'default', deploymentName: name }))
        .workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId;
    const home = (b: string) => path.join(stack.home, '..', `${name}-${b}`);

    const b1 = await stack.startWorker(taskQueue, home('b1'), { deployment: deployment('b1', 'when-unset') });
    const workers = [b1];
    const client = await clientOnQueue(taskQueue);
    try {
      await waitFor('b1 to become current (nothing was)', async () => (await current().catch(() => '')) === 'b1');
      const slow = await taskInput(tenant, undefined, { gates: [{ name: 'slow', argv: ['sh', '-c', 'sleep 6'] }] });
      await client.submit(slow);
      await waitForState(slow, (s) => s.subState === 'gate:slow', 60_000);

      workers.push(await stack.startWorker(taskQueue, home('b2q'), { deployment: deployment('b2', 'when-unset') }));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await current(), 'b1', 'a when-unset build does not take over from the current one');
      workers.push(await stack.startWorker(taskQueue, home('b3'), { deployment: deployment('b3', 'always') }));
      await waitFor('b3 to become current', async () => (await current()) === 'b3');

      const fresh = await taskInput(tenant, undefined, { gates: [{ name: 'ok', argv: ['true'] }] });
      await client.submit(fresh);
      for (const input of [slow, fresh]) {
        const final = await client.watch(input, undefined, 250);
        assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
        await client.temporal.workflow.getHandle(final.workflowId).result();
      }
      const history = async (input: typeof slow) =>
        (await client.temporal.workflow.getHandle(taskWorkflowId(input)).fetchHistory()).events ?? [];
      const slowBuilds = buildsOf(await history(slow));
      const freshBuilds = buildsOf(await history(fresh));
      assert.ok(
        slowBuilds.length > 3 && slowBuilds.every((b) => b === 'b1'),
        `the running task stayed on b1: ${slowBuilds}`,
      );
      assert.ok(
        freshBuilds.length > 3 && freshBuilds.every((b) => b === 'b3'),
        `the new task ran on b3: ${freshBuilds}`,
      );
      const pinned = await client.temporal.workflow.getHandle(taskWorkflowId(slow)).describe();
      assert.equal(pinned.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId, 'b1');

      // An old build restarting (a crash, a reboot) with `always` does not roll the fleet back.
      await stopWorker(workers.shift() as (typeof workers)[number]);
      workers.push(await stack.startWorker(taskQueue, home('b1-again'), { deployment: deployment('b1', 'always') }));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await current(), 'b3', 'the newest build stays current');

      // An operator's rollback holds: a newer build starting later leaves the routing to them.
      await conn.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: 'default',
        deploymentName: name,
        buildId: 'b1',
        identity: 'operator@example',
      });
      workers.push(await stack.startWorker(taskQueue, home('b4'), { deployment: deployment('b4', 'always') }));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await current(), 'b1', "a starting build does not undo the operator's choice");
    } finally {
      await client.close();
      for (const w of workers) await stopWorker(w);
    }
  });
});
