/**
 * Records a run that a deploy moved from the previous release to this one mid-run: started by a
 * worker of the previous release's checkout, which stops while the task waits for a waiver; a
 * worker of this code takes it from there. Its history, old markers first and this release's after,
 * is kept as the `upgrade-<from>-<to>` set, which test/replay replays. Skipped unless asked for:
 *
 *   ARBITER_PREVIOUS_CHECKOUT=/path/to/built/previous/release \
 *   ARBITER_HISTORIES_DIR=test/fixtures/histories/upgrade-v6-v7 node scripts/run-tests.js test/recorder/record-upgrade
 *
 * (the previous checkout built with `npm run build`, its node_modules present).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { taskWorkflowId } from '../../temporal-config';
import { approveWaiverUpdate, getStateQuery } from '../../workflows/definitions';
import { registeredApprover, signedApproval } from '../helpers/approvers';
import { addScriptedAgent, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { traversableTempDir } from '../helpers/temp';
import { clientOnQueue, spawnWorker } from '../helpers/worker-process';
import { waitForState } from '../helpers/wait';
import { recordingDir, writeHistoryFixture } from '../replay/history-fixtures';

const previous = process.env.ARBITER_PREVIOUS_CHECKOUT;

/** SIGTERM (a deploy's stop), then the exit. */
async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

(previous ? describe : describe.skip)('record a run upgraded mid-run (ARBITER_PREVIOUS_CHECKOUT)', function () {
  this.timeout(300_000);

  it('waived: waits for its waiver on the previous release, is approved and completes on this one', async () => {
    const tenant = uniqueId('tenant');
    const queue = uniqueId('upgrade-queue');
    const home = traversableTempDir('arbiter-upgrade-');
    await addScriptedAgent(
      tenant,
      [1, 2, 3].map((i) => ({ op: 'write' as const, path: `src/f${i}.js`, content: `${i}\n` })),
    );
    const alice = await registeredApprover(tenant, 'alice');
    const budget = { max_files: 2, max_loc: 100 };
    const policy = {
      version: 1,
      risk_tiers: { '3': budget },
      waivers: { decision_window_hours: 1, max_expiry_days: 7 },
    };
    const repo = makeRepo({ 'src/app.js': 'x\n', '.caws/policy.yaml': stringify(policy) });
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml({}),
      repo: await registerRepo(tenant, repo),
    };

    const old = await spawnWorker(queue, home, {}, previous);
    const client = await clientOnQueue(queue);
    try {
      await client.submit(input);
      const waiting = await waitForState(input, (s) => s.subState === 'awaiting_waiver');
      await stop(old);
      const current = await spawnWorker(queue, home);
      try {
        const handle = client.temporal.workflow.getHandle(taskWorkflowId(input));
        await handle.executeUpdate(approveWaiverUpdate, {
          args: [await signedApproval(input, waiting.pendingWaiver!, alice)],
        });
        await handle.result();
        const final = await handle.query(getStateQuery);
        assert.equal(final.verdict?.outcome, 'WAIVED');
        const file = writeHistoryFixture(recordingDir(), 'waived', handle.workflowId, await handle.fetchHistory());
        process.stdout.write(`      recorded ${file}\n`);
      } finally {
        await stop(current);
      }
    } finally {
      await client.close();
      if (old.exitCode === null && old.signalCode === null) old.kill('SIGKILL');
    }
  });
});
