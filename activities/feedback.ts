/**
 * Feedback for routing: a finished task's outcome (the verdict's reward less the policy's cost
 * term) updates its agent's statistics, per task type and per context, exactly once
 * (also when this activity retries), recorded with the run that finished it; infrastructure
 * failures feed the circuit breaker.
 */
import { log } from '@temporalio/activity';
import { RecordAgentHealthInput, RecordTaskOutcomeInput } from '../domain/activity-io';
import { contextKey, netReward } from '../domain/routing-context';
import { recordAgentHealth, recordOutcome, type BreakerPolicy } from '../db/agent-stats';
import { gatewaySummary } from '../db/model-calls';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { requireRoutedAgent } from './routed-agent';
import { currentRun } from './run-identity';

/** Builds `recordTaskOutcome` and `recordAgentHealth`. */
export function createFeedbackActivities({ db }: ActivityDeps, breaker?: BreakerPolicy) {
  return {
    async recordTaskOutcome(raw: RecordTaskOutcomeInput): Promise<{ applied: boolean; reward: number }> {
      const { context, costWeights, agentMs, ...parsed } = parseActivityInput(RecordTaskOutcomeInput, raw);
      await requireRoutedAgent(db, parsed);
      // At least what the gateway charged the run: the workflow counts the replies it kept, and a run
      // failed by a model call (a context overflow, a reply too large) had reported none of its usage.
      const charged = await gatewaySummary(db, parsed.tenantId, parsed.taskId, currentRun().runId);
      const tokens = Math.max(parsed.tokens, charged.inputTokens + charged.outputTokens);
      // The column is a 32-bit integer: a run whose endpoint reported absurd counts still records its outcome.
      const input = {
        ...parsed,
        tokens: Math.min(tokens, 2 ** 31 - 1),
        costUsd: Math.max(parsed.costUsd, charged.costUsd),
      };
      const gates = { passed: input.gatesPassed, total: input.gatesTotal };
      const usage = { tokens: input.tokens, costUsd: input.costUsd, latencyMs: agentMs ?? input.latencyMs };
      const reward = netReward(input.outcome, gates, usage, costWeights);
      const applied = await recordOutcome(db, {
        ...input,
        runId: currentRun().runId,
        reward,
        ...(context ? { context: contextKey(context) } : {}),
      });
      log.info('agent outcome recorded', { agentId: input.agentId, outcome: input.outcome, reward, applied });
      return { applied, reward };
    },

    async recordAgentHealth(raw: RecordAgentHealthInput): Promise<{ applied: boolean }> {
      const input = parseActivityInput(RecordAgentHealthInput, raw);
      await requireRoutedAgent(db, input);
      const applied = await recordAgentHealth(db, { ...input, runId: currentRun().runId }, breaker);
      log.info('agent health recorded', { agentId: input.agentId, ok: input.ok, applied });
      return { applied };
    },
  };
}
