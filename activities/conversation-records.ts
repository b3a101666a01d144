/**
 * Who a conversation belongs to, and the spec its tool calls work under. A conversation is one
 * task run's: its activities run either in that run or in its conversation child workflow
 * (`conversation/<conversationId>`, or `…/attempt-<n>` for a retry; the id names the parent run), never in another. The spec
 * is the task run's (stored when it was validated), or — for conversations started with it inline —
 * stored once when the conversation starts; every tool call reads it by id and digest.
 */
import { Context } from '@temporalio/activity';
import { eq } from 'drizzle-orm';
import type { SpecRef } from '../domain/activity-io';
import { ConversationAbandonedError, RecordMismatchError } from '../domain/errors';
import type { WorkingSpec } from '../domain/spec';
import type { Db } from '../db/client';
import { conversations } from '../db/schema';
import { isConversationWorkflow, taskWorkflowId } from '../temporal-config';
import { currentRun } from './run-identity';
import { resolveSpec, storeSpec } from './spec-refs';

type ConversationKey = { tenantId: string; taskId: string; conversationId: string };

/**
 * The task run the calling activity works for: its own run, or — when a conversation child
 * scheduled it — the parent run its workflow id names (the child checked its parent is that run).
 */
export function owningRun(input: ConversationKey): string {
  const { workflowId, runId } = currentRun();
  if (!isConversationWorkflow(workflowId, input.conversationId)) return runId;
  const [tenantId, taskId, parentRunId] = input.conversationId.split('/');
  if (tenantId !== input.tenantId || taskId !== input.taskId || !parentRunId)
    throw new RecordMismatchError(
      'conversation',
      `'${input.conversationId}' is not a conversation of ${tenantId}/${taskId}`,
    );
  return parentRunId;
}

/** Refuses a conversation that is missing, was started by another task or run, or (when named) for another agent; returns its row. */
export async function requireOwnConversation(
  db: Db,
  input: ConversationKey & { agentId?: string },
): Promise<typeof conversations.$inferSelect> {
  const runId = owningRun(input);
  const [row] = await db.select().from(conversations).where(eq(conversations.id, input.conversationId));
  if (!row)
    throw new RecordMismatchError('conversation', `'${input.conversationId}' was never started in run ${runId}`);
  if (row.tenantId !== input.tenantId || row.taskId !== input.taskId || row.runId !== runId) {
    throw new RecordMismatchError(
      'conversation',
      `'${input.conversationId}' belongs to ${row.tenantId}/${row.taskId} run ${row.runId}, not ${input.tenantId}/${input.taskId} run ${runId}`,
    );
  }
  if (input.agentId !== undefined && row.agentId !== input.agentId)
    throw new RecordMismatchError('conversation', `'${input.conversationId}' was started for agent '${row.agentId}'`);
  return row;
}

/** A server that does not answer within this fails the step, which is retried, instead of holding it. */
const DESCRIBE_DEADLINE_MS = 30_000;

/**
 * Refuses a conversation its task no longer waits for, as the server sees it: the task workflow's
 * current run must be the calling run (a conversation inline in its task run) or list the calling
 * child among its pending children, by workflow id (a child that continued as new is listed under
 * its first run's id; another run's child has another id). A reset to a point past a child's
 * start reconnects the child to the new run; one to a point before it leaves the child running,
 * unconnected, beside the new run's own agent.
 */
export async function requireLiveConversation(input: ConversationKey): Promise<void> {
  const { workflowId, runId } = currentRun();
  const { client } = Context.current();
  const handle = client.workflow.getHandle(taskWorkflowId(input));
  const task = await client.withDeadline(Date.now() + DESCRIBE_DEADLINE_MS, () => handle.describe());
  const live = isConversationWorkflow(workflowId, input.conversationId)
    ? (task.raw.pendingChildren ?? []).some((c) => c.workflowId === workflowId)
    : task.runId === runId;
  if (!live) throw new ConversationAbandonedError(input.conversationId, task.runId);
}

/**
 * Stores the conversation's spec (again, identically, on a retry) and returns where it is: never
 * under a task run's own spec id (`spec/…`), which a conversation id could otherwise spell.
 */
export async function storeConversationSpec(db: Db, input: ConversationKey, spec: WorkingSpec): Promise<SpecRef> {
  const { tenantId, taskId } = input;
  const id = `conversation-spec/${input.conversationId}`;
  return storeSpec(db, id, { tenantId, taskId, runId: owningRun(input) }, spec);
}

/** The spec a conversation's activity works to, read by reference only when the run owning the conversation stored it. */
export function conversationSpec(db: Db, input: ConversationKey, spec: SpecRef | WorkingSpec): Promise<WorkingSpec> {
  const { tenantId, taskId } = input;
  return resolveSpec(db, { tenantId, taskId, runId: owningRun(input) }, spec);
}
