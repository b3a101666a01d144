/**
 * Workflow code of an insider's own schedules Arbiter's activities itself (modelled as the
 * repository's tests model a task run: a run started on a queue nobody polls, activities run with
 * its identity): `callModel` turn after turn had no limit but the workflow's. The gateway now holds
 * the agent's token limit, counted from what it charged the run. The wall clock is the workflow's
 * agent clock, which such code need not send: there the tokens bound it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { upsertAgent } from '../../db/agents';
import type { ValidateSpecResult } from '../../domain/activity-io';
import { taskWorkflowId } from '../../temporal-config';
import { startFakeOpenAI, type FakeOpenAI } from '../helpers/fake-openai';
import { specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { routeTo } from '../helpers/tasks';
import { SILENT_LOGGER } from '../../workers/logger';

const KEY_ENV = 'FAKE_OPENAI_KEY';

describe("insider: the openai agent's limits hold without Arbiter's workflow", function () {
  this.timeout(120_000);
  let fake: FakeOpenAI | undefined;
  afterEach(async () => fake?.close());

  /** Turns `callModel` answers for an agent of `limits`, called turn after turn as the insider's code would, and why it stopped. */
  async function turnsAnswered(limits: Record<string, number>) {
    const tenant = uniqueId('tenant');
    const agent = await upsertAgent(testStack().database.db, {
      id: uniqueId('gpt'),
      tenantId: tenant,
      kind: 'openai',
      config: { baseUrl: fake!.baseUrl, model: 'fake-gpt', apiKeyEnv: KEY_ENV, ...limits },
      capabilities: { taskTypes: ['feature'] },
      maxConcurrency: 10,
    });
    const ref = { tenantId: tenant, taskId: uniqueId('task') };
    const run = await testStack().client.temporal.workflow.start('taskLifecycle', {
      taskQueue: uniqueId('insider-own-code'),
      workflowId: taskWorkflowId(ref),
      args: [{}],
    });
    const env = new MockActivityEnvironment(
      { workflowExecution: { workflowId: run.workflowId, runId: run.firstExecutionRunId } },
      { logger: SILENT_LOGGER, client: testStack().client.temporal },
    );
    const a = createActivities(testActivityDeps());
    await routeTo(env, a, ref, agent.id);
    const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: specYaml() });
    const conversationId = `${tenant}/${ref.taskId}/1`;
    await env.run(a.startConversation, { ...ref, agentId: agent.id, conversationId, spec: validated.specRef! });
    let answered = 0;
    try {
      for (let turn = 1; turn <= 8; turn++) {
        await env.run(a.callModel, { ...ref, agentId: agent.id, conversationId, turn });
        answered++;
      }
      return { answered, why: 'never refused' };
    } catch (err) {
      return { answered, why: (err as Error).message };
    } finally {
      await run.terminate('test over');
    }
  }

  it("callModel refuses turns past the agent's token limit", async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    fake = await startFakeOpenAI({
      apiKey,
      script: () => ({
        toolCalls: [{ name: 'list_files', arguments: {} }],
        usage: { prompt: 100_000, completion: 100_000 },
      }),
    });
    const tokens = await turnsAnswered({ maxTurns: 30, maxTokens: 500 });
    assert.equal(tokens.answered, 1, tokens.why);
    assert.match(tokens.why, /model budget is spent: token budget exceeded: 200000 of 500 tokens used/);
  });
});
