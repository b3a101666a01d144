/**
 * Whose fault a failure is, and how long the task waits for it, through the real lifecycle: the
 * submitter's faults end REJECTED at once (an alias bomb among them), infrastructure's end FAILED;
 * an agent's own run limit sets its step's timeout; and capacity held by a run that was
 * terminated from outside is freed for the next task.
 */
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { upsertAgent } from '../../db/agents';
import { addScriptedAgent, GOOD_PLAN, goodTaskInput, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { waitForState } from '../helpers/wait';
import { attemptsOf, localAttemptsOf, type HistoryEvent } from '../helpers/history';

/** The task's workflow history. */
async function historyOf(workflowId: string): Promise<HistoryEvent[]> {
  const history = await testStack().client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return history.events ?? [];
}

/** A spec whose nine anchors expand to 9^9 nodes: the "billion laughs" in YAML. */
function aliasBomb(): string {
  let text = `l0: &l0 [${Array(9).fill('"lol"').join(',')}]\n`;
  for (let i = 1; i < 9; i++)
    text += `l${i}: &l${i} [${Array(9)
      .fill(`*l${i - 1}`)
      .join(',')}]\n`;
  return `${specYaml().trimEnd()}\n${text}`;
}

describe('whose fault a failed validation is', function () {
  this.timeout(120_000);

  // However the test below ends (a timeout too), the next test finds the repository table back.
  afterEach(() => testStack().database.db.execute(sql`ALTER TABLE IF EXISTS repos_away RENAME TO repos`));

  it('an alias bomb is REJECTED on the first attempt as a spec problem naming it', async () => {
    const input = { ...(await goodTaskInput()), specYaml: aliasBomb() };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED');
    assert.equal(final.error?.type, 'SpecInvalidError');
    assert.match(final.error?.problems?.join('; ') ?? '', /alias/i);
    const events = await historyOf(final.workflowId);
    const attempts = [...attemptsOf(events, 'validateSpec'), ...localAttemptsOf(events, 'validateSpec')];
    assert.deepEqual(attempts, [1], 'validated once, not retried');
  });

  it('an unknown repository is the submitter’s fault: REJECTED', async () => {
    const input = { ...(await goodTaskInput()), repo: uniqueId('no-such-repo') };
    const final = await runToEnd(input);
    assert.equal(final.state, 'REJECTED');
    assert.equal(final.error?.type, 'UnknownRepoError');
  });

  it('a lookup the database refuses is infrastructure’s fault: FAILED, not REJECTED', async () => {
    const { db } = testStack().database;
    const input = await goodTaskInput();
    // The repository table is missing (a botched migration): every lookup fails, whatever the task says.
    await db.execute(sql`ALTER TABLE repos RENAME TO repos_away`);
    const final = await runToEnd(input);
    assert.equal(final.state, 'FAILED', JSON.stringify(final.error));
    assert.equal(final.error?.type, 'DatabaseRejectedError');
    assert.deepEqual(
      final.history.map((h) => h.state),
      ['RECEIVED', 'VALIDATING_SPEC', 'FAILED'],
    );
  });
});

describe('timeouts and capacity that follow the agent', function () {
  this.timeout(120_000);

  it("executeAgent's start-to-close timeout covers the command agent's own wall-clock limit", async () => {
    const tenantId = uniqueId('tenant');
    const limit = 4 * 3600;
    await upsertAgent(testStack().database.db, {
      id: uniqueId('agent'),
      tenantId,
      kind: 'command',
      config: { argv: ['sh', '-c', 'echo "module.exports = 2;" > src/feature.js'], timeoutSeconds: limit },
      capabilities: { taskTypes: ['feature'] },
    });
    const input = { tenantId, taskId: uniqueId('task'), specYaml: specYaml(), repo: await registerRepo(tenantId) };
    const final = await runToEnd(input);
    const scheduled = (await historyOf(final.workflowId))
      .map((e) => e.activityTaskScheduledEventAttributes)
      .find((a) => a?.activityType?.name === 'executeAgent');
    assert.ok(scheduled, `executeAgent was scheduled (${final.state}: ${JSON.stringify(final.error)})`);
    const seconds = Number(scheduled.startToCloseTimeout?.seconds ?? 0);
    assert.ok(seconds > limit, `start-to-close ${seconds}s covers the agent's ${limit}s`);
  });

  it('a terminated run gives its capacity back: the next task routes to the same max-concurrency-1 agent', async () => {
    const { client } = testStack();
    const tenantId = uniqueId('tenant');
    const agent = await addScriptedAgent(tenantId, GOOD_PLAN, { maxConcurrency: 1 });
    const repo = await registerRepo(tenantId);
    const first = {
      tenantId,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo,
      gates: [{ name: 'slow', argv: ['sleep', '600'] }],
    };
    await client.submit(first);
    const held = await waitForState(first, (s) => s.subState === 'gate:slow', 60_000);
    // An insider (or a timeout, or the history limit) ends the run where no workflow code runs.
    await client.temporal.workflow.getHandle(held.workflowId).terminate('pinning the agent');

    const second = { tenantId, taskId: uniqueId('task'), specYaml: specYaml(), repo };
    const final = await runToEnd(second);
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.routing?.agentId, agent.id);
  });
});
