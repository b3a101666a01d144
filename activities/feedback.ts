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
import { requireOwnTask } from './task-ended';
import { storedVerdict } from '../db/verdicts';
import type { Db } from '../db/client';
import { RecordMismatchError } from '../domain/errors';

type Judged = Pick<RecordTaskOutcomeInput, 'outcome' | 'gatesPassed' | 'gatesTotal'>;

/**
 * What the run is credited with: its own signed verdict's outcome and gates, never the step's
 * claim (an insider's workflow code recorded thirty PASSes for tasks that never ran, found in
 * review). A run with no verdict (its agent failed by its own fault) is recorded a FAIL, no gate passed.
 */
async function judgedOutcome(db: Db, claimed: RecordTaskOutcomeInput, runId: string): Promise<Judged> {
  const verdict = await storedVerdict(db, claimed.tenantId, claimed.taskId, runId);
  if (!verdict) {
    if (claimed.outcome !== 'FAIL')
      throw new RecordMismatchError('verdict', `run ${runId} has no verdict, so its outcome can only be a FAIL`);
    return { outcome: 'FAIL', gatesPassed: 0, gatesTotal: 0 };
  }
  if (verdict.payload.agentId !== claimed.agentId)
    throw new RecordMismatchError('verdict', `run ${runId} was judged for agent '${verdict.payload.agentId}'`);
  const gates = verdict.payload.gates;
  return {
    outcome: verdict.outcome,
    gatesPassed: gates.filter((g) => g.status === 'pass').length,
    gatesTotal: gates.length,
  };
}

/** Builds `recordTaskOutcome` and `recordAgentHealth`. */
export function createFeedbackActivities({ db }: ActivityDeps, breaker?: BreakerPolicy) {
  return {
    async recordTaskOutcome(raw: RecordTaskOutcomeInput): Promise<{ applied: boolean; reward: number }> {
      const { context, costWeights, agentMs, ...claimed } = parseActivityInput(RecordTaskOutcomeInput, raw);
      const run = currentRun();
      await requireRoutedAgent(db, claimed);
      await requireOwnTask(db, claimed, run);
      const parsed = { ...claimed, ...(await judgedOutcome(db, claimed, run.runId)) };
      // At least what the gateway charged the run: the workflow counts the replies it kept, and a run
      // failed by a model call (a context overflow, a reply too large) had reported none of its usage.
      const charged = await gatewaySummary(db, parsed.tenantId, parsed.taskId, run.runId);
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
        runId: run.runId,
        reward,
        ...(context ? { context: contextKey(context) } : {}),
      });
      log.info('agent outcome recorded', { agentId: input.agentId, outcome: input.outcome, reward, applied });
      return { applied, reward };
    },

    async recordAgentHealth(raw: RecordAgentHealthInput): Promise<{ applied: boolean }> {
      const input = parseActivityInput(RecordAgentHealthInput, raw);
      const run = currentRun();
      await requireRoutedAgent(db, input);
      await requireOwnTask(db, input, run);
      const applied = await recordAgentHealth(db, { ...input, runId: run.runId }, breaker);
      log.info('agent health recorded', { agentId: input.agentId, ok: input.ok, applied });
      return { applied };
    },
  };
}
