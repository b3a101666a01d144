/**
 * The `agentConversation` child workflow's input and result: small values only. The spec comes
 * once, in the first run (as the task run's stored reference; inline from runs validated before specs were stored); a run that continues as new carries where it stands instead (the
 * turn, the usage so far, the limits and the stored spec's reference).
 */
import { z } from 'zod';
import { ConversationLimitsSchema, SpecOrRefSchema, SpecRefSchema, type AgentRunResult } from './activity-io';
import type { PolicyViolation } from './sandbox';
import { IdPartSchema } from './task';
import { MAX_ATTEMPTS_LIMIT } from './repo-policy';
import { MAX_FEEDBACK_CHARACTERS } from './retry-feedback';

/** Where a conversation stands between turns. */
export const ConversationStateSchema = z.object({
  turn: z.number().int().nonnegative(),
  tokens: z.number().nonnegative(),
  costUsd: z.number().nonnegative(),
  startedAt: z.number(),
});
/** Where a conversation stands between turns. */
export type ConversationState = z.infer<typeof ConversationStateSchema>;

const ViolationSchema = z.custom<PolicyViolation>((v) => typeof v === 'object' && v !== null);

/** Input of `agentConversation`: the first run's (with `spec`) or a continued run's (with `resume`). */
export const AgentConversationInputSchema = z
  .object({
    tenantId: IdPartSchema,
    taskId: IdPartSchema,
    agentId: z.string(),
    conversationId: z.string(),
    workspacePath: z.string(),
    hostQueue: z.string(),
    hostLossTimeoutSeconds: z.number().positive(),
    spec: SpecOrRefSchema.optional(),
    resume: z
      .object({
        limits: ConversationLimitsSchema,
        spec: SpecRefSchema,
        state: ConversationStateSchema,
        violations: z.array(ViolationSchema).max(100),
      })
      .optional(),
    /**
     * A retry after the change failed verification: the conversation goes on with the gates'
     * evidence as a new user turn, from where the last attempt left its turn count and usage.
     */
    followUp: z
      .object({
        attempt: z.number().int().min(2).max(MAX_ATTEMPTS_LIMIT),
        feedback: z
          .string()
          .min(1)
          .max(MAX_FEEDBACK_CHARACTERS + 100),
        after: ConversationStateSchema,
      })
      .optional(),
    /** When a run continues as new: past this many history events or bytes (or when the server suggests it). */
    historyBudget: z.object({ events: z.number().int().positive(), bytes: z.number().int().positive() }).optional(),
  })
  .refine((i) => (i.spec === undefined) !== (i.resume === undefined), 'exactly one of spec and resume');
/** Input of `agentConversation`. */
export type AgentConversationInput = z.input<typeof AgentConversationInputSchema>;

/** What the conversation child returns to its task: the agent run, and what the sandbox refused meanwhile. */
export interface AgentConversationResult {
  run: AgentRunResult;
  violations: PolicyViolation[];
}

/** The conversation child's signature: the task run starts it by name, without importing the workflow module. */
export type AgentConversationWorkflow = (input: AgentConversationInput) => Promise<AgentConversationResult>;
