/**
 * Attack: an insider's own workflow code scheduling the steps that act for an agent. Its input
 * named the workspace and the agent, and nothing tied either to the task: `executeAgent` reset
 * (removed) any folder the worker could write, another tenant's repository included, and ran the
 * agent there; any agent, another tenant's private one or a paused one, could be run past its
 * limit; three made-up tasks opened the circuit of an agent every tenant shares; an outcome of
 * 2^50 passed gates made the tenant's routing throw on every decision.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { AgentRunResult, PreparedWorkspace, ValidateSpecResult } from '../../domain/activity-io';
import { taskWorkflowId } from '../../temporal-config';
import { SILENT_LOGGER } from '../../workers/logger';
import { setAgentStatus } from '../../db/agents';
import { parseSpecYaml } from '../../activities/spec-yaml';
import { validateWorkingSpec } from '../../domain/spec';
import {
  addOpenAIAgent,
  addScriptedAgent,
  circuitOf,
  GOOD_PLAN,
  registeredPath,
  specYaml,
  tempDir,
  uniqueId,
} from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { prepareOwned, routeTo } from '../helpers/tasks';

const refusedAs = (type: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApplicationFailure, String(err));
  assert.equal(err.type, type, err.message);
  assert.match(err.message, pattern);
  return true;
};

/** A task of the insider's tenant with its workspace prepared and spec validated, run by `env`. */
async function insiderTask() {
  const ref = { tenantId: uniqueId('insider'), taskId: uniqueId('task') };
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId: uniqueId('run') } },
    { logger: SILENT_LOGGER },
  );
  const a = createActivities(testActivityDeps());
  const own = await addScriptedAgent(ref.tenantId, GOOD_PLAN);
  const ws: PreparedWorkspace = await prepareOwned(env, a, {
    ...ref,
    repoPath: await registeredPath(ref.tenantId),
  });
  const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: specYaml() });
  const run = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit, spec: validated.specRef! };
  return { ref, env, a, own, run };
}

describe('governance: an insider naming the workspace and the agent', function () {
  this.timeout(120_000);

  it("executeAgent and runToolCall refuse any workspace but the task's own, and leave it as it was", async () => {
    const { env, a, own, run } = await insiderTask();
    await routeTo(env, a, run, own.id);
    const victim = tempDir('arbiter-victim-');
    writeFileSync(path.join(victim, 'keep.txt'), 'another tenant’s work\n');
    await assert.rejects(
      env.run(a.executeAgent, { ...run, agentId: own.id, workspacePath: victim }),
      refusedAs('RecordMismatchError', /is not task .*'s/),
    );
    assert.ok(existsSync(path.join(victim, 'keep.txt')), 'the folder is untouched');
    const conversationId = `${run.tenantId}/${run.taskId}/1`;
    await assert.rejects(
      env.run(a.runToolCall, { ...run, conversationId, turn: 1, callId: 'c1', workspacePath: victim }),
      refusedAs('RecordMismatchError', /is not task .*'s/),
    );
  });

  it('executeAgent and startConversation refuse an agent routing never chose for the task', async () => {
    const { env, a, own, run } = await insiderTask();
    const othersPrivate = await addScriptedAgent(uniqueId('victim'), GOOD_PLAN);
    for (const agentId of [othersPrivate.id, own.id])
      await assert.rejects(
        env.run(a.executeAgent, { ...run, agentId }),
        refusedAs('RecordMismatchError', /no run of task .* was routed to agent/),
      );
    const conversationId = `${run.tenantId}/${run.taskId}/1`;
    await assert.rejects(
      env.run(a.startConversation, { ...run, agentId: othersPrivate.id, conversationId }),
      refusedAs('RecordMismatchError', /no run of task .* was routed to agent/),
    );
    await routeTo(env, a, run, own.id);
    const done: AgentRunResult = await env.run(a.executeAgent, { ...run, agentId: own.id });
    assert.equal(done.agentId, own.id, 'the routed agent runs');
  });

  it("made-up tasks cannot open a shared agent's circuit nor feed its statistics; gates passed never exceed gates run", async () => {
    const { env, a, run } = await insiderTask();
    const shared = await addScriptedAgent(uniqueId('victim'), GOOD_PLAN);
    for (let i = 0; i < 3; i++)
      await assert.rejects(
        env.run(a.recordAgentHealth, { tenantId: run.tenantId, taskId: uniqueId('t'), agentId: shared.id, ok: false }),
        refusedAs('RecordMismatchError', /was routed to agent/),
      );
    assert.deepEqual(await circuitOf(run.tenantId, shared.id), [0, null]);
    const outcome = {
      ...run,
      agentId: shared.id,
      taskType: 'feature',
      outcome: 'FAIL' as const,
      gatesPassed: 2 ** 50,
      gatesTotal: 1,
      latencyMs: 1,
    };
    await assert.rejects(
      env.run(a.recordTaskOutcome, outcome),
      refusedAs('InvalidActivityInputError', /more gates passed than ran/),
    );
    await assert.rejects(
      env.run(a.recordTaskOutcome, { ...outcome, gatesPassed: 1 }),
      refusedAs('RecordMismatchError', /was routed to agent/),
    );
  });

  it('executeAgent and startConversation refuse an agent paused or retired after routing chose it', async () => {
    const { env, a, own, run } = await insiderTask();
    const { db } = testStack().database;
    await routeTo(env, a, run, own.id);
    for (const status of ['paused', 'retired'] as const) {
      await setAgentStatus(db, own.id, status);
      await assert.rejects(
        env.run(a.executeAgent, { ...run, agentId: own.id }),
        refusedAs('AgentNotActiveError', new RegExp(`agent '${own.id}' is ${status}`)),
      );
    }
    // The failure its pause causes is no failure of the agent's: the circuit stays closed for when it is resumed.
    const health = { tenantId: run.tenantId, taskId: run.taskId, agentId: own.id, ok: false };
    assert.deepEqual(await env.run(a.recordAgentHealth, health), { applied: false });
    assert.deepEqual(await circuitOf(run.tenantId, own.id), [0, null]);
    await setAgentStatus(db, own.id, 'active');
    const done: AgentRunResult = await env.run(a.executeAgent, { ...run, agentId: own.id });
    assert.equal(done.agentId, own.id, 'resumed, it runs');

    const other = await insiderTask();
    const gpt = await addOpenAIAgent(other.ref.tenantId, 'http://127.0.0.1:9', 'UNUSED_MODEL_KEY');
    await routeTo(other.env, other.a, other.run, gpt.id);
    await setAgentStatus(db, gpt.id, 'paused');
    const conversationId = `${other.ref.tenantId}/${other.ref.taskId}/1`;
    await assert.rejects(
      other.env.run(other.a.startConversation, { ...other.run, agentId: gpt.id, conversationId }),
      refusedAs('AgentNotActiveError', /is paused/),
    );
  });

  it('executeAgent and startConversation work only to the spec the task validated (runToolCall: openai-agent.test.ts)', async () => {
    const { env, a, own, run } = await insiderTask();
    await routeTo(env, a, run, own.id);
    const checked = validateWorkingSpec(parseSpecYaml(specYaml()));
    assert.ok(checked.ok);
    // The file tools' scope and tier come from it: every path, tier 3.
    const wide = { ...checked.spec, scope: { in: ['**'], out: [] }, riskTier: 3 as const };
    const conversationId = `${run.tenantId}/${run.taskId}/1`;
    for (const step of [
      env.run(a.executeAgent, { ...run, agentId: own.id, spec: wide }),
      env.run(a.startConversation, { ...run, agentId: own.id, conversationId, spec: wide }),
    ])
      await assert.rejects(step, refusedAs('RecordMismatchError', /an agent works to the spec task .* validated/));
    const same: AgentRunResult = await env.run(a.executeAgent, { ...run, agentId: own.id, spec: checked.spec });
    assert.equal(same.agentId, own.id, 'the validated spec, whole, is the same spec');
  });
});
