/**
 * `temporal workflow reset` of a task whose `openai` conversation child is running. To a point
 * after the child started: the new run replays the child's start as the replaced run recorded it
 * (its id names the run that started it), the server reconnects the running child, and the task
 * completes. Before, the replay named the conversation after the new run, every workflow task
 * failed as nondeterministic, and the run hung until terminated. To a point before the child
 * started: the server leaves the old child running beside the new run's own; its next model or
 * tool call is refused, so it never again acts on the task's workspace.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { and, asc, eq } from 'drizzle-orm';
import { conversationMessages, conversations } from '../../db/schema';
import type { TaskInput } from '../../domain/task';
import { taskWorkflowId } from '../../temporal-config';
import type { taskLifecycle } from '../../workflows';
import {
  FEATURE_SOURCE,
  startFakeOpenAI,
  WRITES_FEATURE,
  type ChatMessage,
  type FakeOpenAI,
  type FakeReply,
} from '../helpers/fake-openai';
import { addOpenAIAgent, makeRepo, taskInput } from '../helpers/fixtures';
import { resetRunTo } from '../helpers/cli';
import type { HistoryEvent } from '../helpers/history';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

const KEY_ENV = 'FAKE_OPENAI_KEY';

/** The first workflow task the run completed after its conversation child had started. */
function completedAfterChildStarted(events: HistoryEvent[]): number | undefined {
  const started = events.find((e) => e.childWorkflowExecutionStartedEventAttributes);
  if (!started) return undefined;
  const after = events.find(
    (e) => e.workflowTaskCompletedEventAttributes && Number(e.eventId) > Number(started.eventId),
  );
  return after ? Number(after.eventId) : undefined;
}

/** The workflow task that started the conversation child: a reset to it runs again from before the start. */
function taskThatStartedChild(events: HistoryEvent[]): number | undefined {
  const initiated = events.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
  const id = initiated?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowTaskCompletedEventId;
  return id ? Number(id) : undefined;
}

/**
 * Submits a task to a model that writes the feature and stops, holds the model's first answer,
 * resets the task at `resetPointOf` its history once the child waits on it, and releases it.
 */
async function resetWhileConversing(
  fake: FakeOpenAI,
  resetPointOf: (events: HistoryEvent[]) => number | undefined,
  extra: Partial<TaskInput> = {},
) {
  fake.hold(1);
  const input = await taskInput(`reset-${randomBytes(4).toString('hex')}`, makeRepo(), extra);
  await addOpenAIAgent(input.tenantId, fake.baseUrl, KEY_ENV);
  const { client } = testStack();
  const { runId } = await client.submit(input);
  const workflowId = taskWorkflowId(input);
  const first = client.temporal.workflow.getHandle(workflowId, runId);
  await fake.waitForRequest(1, 1, 60_000);
  const history = await waitFor('the reset point', async () => {
    const events = (await first.fetchHistory()).events ?? [];
    return resetPointOf(events) !== undefined && events;
  });
  const childId = history.find((e) => e.childWorkflowExecutionStartedEventAttributes)
    ?.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
  assert.ok(childId, 'the conversation runs as a child');
  await resetRunTo(workflowId, runId, Number(resetPointOf(history)), 'conversation-reset test');
  const { runId: newRunId } = await client.temporal.workflow.getHandle(workflowId).describe();
  assert.notEqual(newRunId, runId, 'the reset started a new run');
  return { reset: client.temporal.workflow.getHandle<typeof taskLifecycle>(workflowId, newRunId), childId };
}

/** Every failure in `err`'s cause chain, as `type: message` lines. */
function causes(err: unknown): string {
  const lines: string[] = [];
  for (let e = err as { type?: string; name?: string; message?: string; cause?: unknown } | undefined; e;) {
    lines.push(`${e.type ?? e.name}: ${e.message}`);
    e = e.cause as typeof e;
  }
  return lines.join('\n');
}

describe('reset of a task while its conversation child runs', function () {
  this.timeout(120_000);
  let fake: FakeOpenAI;

  beforeEach(async () => {
    const apiKey = `sk-fake-${randomBytes(12).toString('hex')}`;
    process.env[KEY_ENV] = apiKey;
    fake = await startFakeOpenAI({
      apiKey,
      script: WRITES_FEATURE,
    });
  });

  afterEach(() => fake.close());

  it('past the child start: replays the child as started, reconnects it, and completes', async () => {
    const { reset } = await resetWhileConversing(fake, completedAfterChildStarted);
    fake.release(1);
    // A run that cannot replay fails workflow task after workflow task and never ends.
    const events = await waitFor(
      'the reset run to end, or to fail a workflow task of its own',
      async () => {
        const history = (await reset.fetchHistory()).events ?? [];
        const failed = history.filter((e) => e.workflowTaskFailedEventAttributes).length;
        return (failed > 1 || (await reset.describe()).status.name !== 'RUNNING') && history;
      },
      90_000,
    );
    const failures = events.flatMap((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? []);
    assert.equal(failures.length, 1, `only the reset itself failed a workflow task: ${failures.join(' | ')}`);
    const final = await reset.result();
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(fake.requestsFor(1).length, 1, 'the model was asked turn 1 once: the child was not run again');
  });

  it('past the child start, then a retry: the new run converses anew with the feedback, counting turns from 1', async () => {
    const wrongUntilTold = (turn: number, messages: ChatMessage[]): FakeReply => {
      if (messages[messages.length - 1].role === 'tool') return { content: `done at turn ${turn}` };
      const told = messages.some((m) => m.role === 'user' && (m.content ?? '').includes('failed verification'));
      const content = told ? FEATURE_SOURCE : 'module.exports = () => 41;\n';
      return { toolCalls: [{ name: 'file_write', arguments: { path: 'src/feature.js', content } }] };
    };
    await fake.close();
    fake = await startFakeOpenAI({ apiKey: process.env[KEY_ENV], script: wrongUntilTold });
    const check = { name: 'check', argv: ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'] };
    const { reset } = await resetWhileConversing(fake, completedAfterChildStarted, { gates: [check] });
    fake.release(1);
    const final = await reset.result();
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    assert.equal(final.attempts.length, 1, 'one failed attempt before');

    const { db } = testStack().database;
    const convs = await db
      .select()
      .from(conversations)
      .where(and(eq(conversations.tenantId, final.tenantId), eq(conversations.taskId, final.taskId)))
      .orderBy(asc(conversations.createdAt));
    assert.equal(convs.length, 2, "the replaced run's conversation, then the new run's");
    const retried = await db
      .select()
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, convs[1].id))
      .orderBy(asc(conversationMessages.seq));
    assert.deepEqual(
      retried.map((m) => [m.role, m.turn]),
      [
        ['system', null],
        ['user', null],
        ['user', null],
        ['assistant', 1],
        ['tool', null],
        ['assistant', 2],
      ],
      'a new conversation: the task, the feedback, and its own turns from 1',
    );
    assert.match(retried[2].content ?? '', /failed verification/);
  });

  it('before the child start: the new run converses anew; the old child is refused its next tool call', async () => {
    const { reset, childId } = await resetWhileConversing(fake, taskThatStartedChild);
    await fake.waitForRequest(1, 2, 60_000);
    fake.release(1);
    const final = await reset.result();
    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));

    const old = testStack().client.temporal.workflow.getHandle(childId);
    await assert.rejects(old.result(), (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.match(causes(err), /ConversationAbandonedError: conversation '.*' is no longer its task's/);
      return true;
    });
    const conversationId = childId.slice('conversation/'.length);
    const ran = await testStack()
      .database.db.select()
      .from(conversationMessages)
      .where(and(eq(conversationMessages.conversationId, conversationId), eq(conversationMessages.role, 'tool')));
    assert.deepEqual(ran, [], "the old child's tool call never ran");
  });
});
