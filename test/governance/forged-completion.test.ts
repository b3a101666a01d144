/**
 * Attack: an insider completing a step by its id. Anyone who may write to the namespace can
 * complete a running activity with a result of their choosing (`temporal activity complete`), no
 * worker of theirs needed. Completing a failing gate's `runGate` with a pass handed the workflow
 * a PASS for a change whose check failed, which `issueVerdict` signed and delivery delivered.
 * The verdict now stands only on the gate results the run's activities stored themselves.
 */
import assert from 'node:assert/strict';
import { taskWorkflowId } from '../../temporal-config';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { addScriptedAgent, gitIn, GOOD_PLAN, makeRepo, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { assertNotDelivered } from './helpers';

const SLOW_FAILING_CHECK = ['node', '-e', 'setTimeout(() => process.exit(1), 15000)'];

describe('governance: a step completed by hand', function () {
  this.timeout(120_000);

  it("a gate's runGate completed with a pass by its id: no PASS is signed, nothing is delivered", async () => {
    const tenant = uniqueId('forge');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo({ 'src/app.js': 'module.exports = 1;\n' });
    const headBefore = gitIn(repo, 'rev-parse', 'HEAD');
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenant, repo),
      gates: [{ name: 'check', argv: SLOW_FAILING_CHECK }],
    };
    const { client } = testStack();
    await client.submit(input);
    const workflowId = taskWorkflowId(input);
    const handle = client.temporal.workflow.getHandle(workflowId);
    const gateStep = async () =>
      (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'runGate');
    const step = await waitFor('the gate to run', gateStep, 60_000);
    await client.temporal.activity.complete(
      { workflowId, activityId: step.activityId! },
      { name: 'check', kind: 'command', source: 'submitter', argv: SLOW_FAILING_CHECK, status: 'pass', detail: 'ok' },
    );
    const final = await client.watch(input, undefined, 200);
    assert.equal(final.state, 'FAILED', JSON.stringify(final.gates));
    assert.equal(final.error?.type, 'RecordMismatchError', JSON.stringify(final.error));
    assert.match(final.error?.message ?? '', /gate check: no result of it was stored for tree [0-9a-f]{40}/);
    assert.notEqual(final.verdict?.outcome, 'PASS');
    assertNotDelivered({ final, input, repo, tenant, headBefore });
  });
});
