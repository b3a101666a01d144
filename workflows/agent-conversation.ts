/**
 * `agentConversation`: a task run's `openai` conversation as a child workflow, so the task's own
 * history holds one child instead of every turn. When its history passes a budget of events or
 * bytes (or the server suggests it), it continues as new carrying only where it stands: the
 * turn, the usage so far, the limits and the stored spec's reference. It runs only as the child
 * of the task run its id names: started by hand, or under another id, it fails at once, before
 * anything touches the workspace.
 */
import { ApplicationFailure, continueAsNew, workflowInfo } from '@temporalio/workflow';
import { keepViolation } from '../domain/bounds';
import {
  AgentConversationInputSchema,
  type AgentConversationInput,
  type AgentConversationResult,
} from '../domain/conversation';
import { ConversationParentMismatchError, WorkflowIdMismatchError } from '../domain/errors';
import type { PolicyViolation } from '../domain/sandbox';
import { conversationWorkflowId, taskWorkflowId } from '../temporal-config';
import { startConversation } from './activity-proxies';
import { converse } from './conversation';
import { parseWorkflowInput } from './workflow-input';
import { dropUnknownSignals } from './unknown-signals';

/** Default history budget of one run: well under Temporal's limits (50 MB, 51,200 events) and its warnings. */
const HISTORY_BUDGET = { events: 2_000, bytes: 2 * 1024 * 1024 };

/** Runs the conversation to its end, continuing as new whenever its history passes the budget. */
export async function agentConversation(raw: AgentConversationInput): Promise<AgentConversationResult> {
  const input = parseInput(raw);
  dropUnknownSignals();
  const begun = input.resume ?? {
    ...(await startFirst(input)),
    state: input.followUp?.after ?? { turn: 0, tokens: 0, costUsd: 0, startedAt: Date.now() },
    violations: [] as PolicyViolation[],
  };
  const violations: PolicyViolation[] = [];
  for (const v of begun.violations) keepViolation(violations, v);
  const budget = input.historyBudget ?? HISTORY_BUDGET;
  const run = await converse(input, begun.limits, begun.spec, begun.state, {
    beforeTurn: async (state) => {
      const info = workflowInfo();
      if (info.continueAsNewSuggested || info.historyLength > budget.events || info.historySize > budget.bytes)
        await continueAsNew<typeof agentConversation>({
          ...input,
          spec: undefined,
          resume: { limits: begun.limits, spec: begun.spec, state, violations },
        });
    },
    onViolation: (v) => keepViolation(violations, v),
  });
  return { run, violations };
}

async function startFirst(input: ReturnType<typeof parseInput>) {
  const { tenantId, taskId, agentId, conversationId, spec, followUp } = input;
  if (!spec) throw ApplicationFailure.nonRetryable('a conversation begins with its spec');
  const started = await startConversation({
    tenantId,
    taskId,
    agentId,
    conversationId,
    spec,
    ...(followUp ? { feedback: followUp.feedback } : {}),
  });
  const { spec: specRef, ...limits } = started;
  if (!specRef) throw ApplicationFailure.nonRetryable('startConversation stored no spec');
  // Each attempt has the agent's allowance of turns; tokens and wall-clock time span them all.
  return { limits: { ...limits, maxTurns: limits.maxTurns + (followUp?.after.turn ?? 0) }, spec: specRef };
}

/**
 * The input's own checks, then whose it is: the id must be `conversation/<conversationId>`, and
 * the conversation id must name this run's parent — the task run `task/<tenant>/<task>` that
 * started it — so nobody can run a conversation against another task's workspace.
 */
function parseInput(raw: unknown) {
  const input = parseWorkflowInput(AgentConversationInputSchema, raw, 'conversation input');
  const { workflowId, parent } = workflowInfo();
  const expected = conversationWorkflowId(input.conversationId, input.followUp?.attempt);
  if (workflowId !== expected) throw new WorkflowIdMismatchError(workflowId, expected);
  const owner = taskWorkflowId(input);
  const [, , parentRunId] = input.conversationId.split('/');
  if (
    !parent ||
    parent.workflowId !== owner ||
    parent.runId !== parentRunId ||
    !input.conversationId.startsWith(`${input.tenantId}/${input.taskId}/${parent.runId}/`)
  )
    throw new ConversationParentMismatchError(
      parent ? `${parent.workflowId} run ${parent.runId}` : 'none',
      `${owner} run ${parentRunId}`,
    );
  return input;
}
