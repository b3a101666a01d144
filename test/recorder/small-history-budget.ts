/**
 * Workflow interceptors the recorder bundles in (tests only): every `agentConversation` child
 * starts with a history budget of a few events, so the recorded three-turn conversation continues
 * as new between turns, as a long one does past its 2,000 events, and its runs stay small. The
 * budget travels in the child's input (`historyBudget`), so the recorded runs replay against the
 * real code unchanged.
 */
import type { StartChildWorkflowExecutionInput, WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** Above the events a resumed run has at its first turn (3), so every run takes at least one. */
const SMALL_HISTORY_BUDGET = { events: 10, bytes: 2 * 1024 * 1024 };

/** `input` with the budget in the conversation's input, when it starts a conversation. */
function withSmallBudget(input: StartChildWorkflowExecutionInput): StartChildWorkflowExecutionInput {
  if (input.workflowType !== 'agentConversation') return input;
  const [first, ...rest] = input.options.args;
  const args = [{ ...(first as object), historyBudget: SMALL_HISTORY_BUDGET }, ...rest];
  return { ...input, options: { ...input.options, args } };
}

/** The outbound interceptor that gives each conversation child the small budget. */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [{ startChildWorkflowExecution: (input, next) => next(withSmallBudget(input)) }],
});
