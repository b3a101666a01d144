/**
 * Feedback for routing: a finished task's outcome (the verdict's reward less the policy's cost
 * term) updates its agent's statistics, per task type and per context, exactly once
 * (also when this activity retries), recorded with the run that finished it; infrastructure
 * failures feed the circuit breaker.
 */
import { log } from '@temporalio/activity';
import { RecordAgentHealthInput, RecordTaskOutcomeInput } from '../domain/activity-io';
import { contextKey, netReward, NO_COST_WEIGHTS, routingContextOf, type CostWeights } from '../domain/routing-context';
import type { z } from 'zod';
import type { RunKey } from '../db/run-policies';
import { judgingPolicy } from './repo-policy';
import { validatedSpec } from './spec-refs';
import { recordAgentHealth, recordOutcome, type BreakerPolicy } from '../db/agent-stats';
import { gatewaySummary } from '../db/model-calls';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { requireRoutedAgent, routedDecision, type RoutedDecision } from './routed-agent';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';
import { storedVerdict } from '../db/verdicts';
import { getAgent } from '../db/agents';
import type { Db } from '../db/client';
import { RecordMismatchError } from '../domain/errors';

type ParsedOutcomeInput = z.output<typeof RecordTaskOutcomeInput>;
type Judged = Pick<ParsedOutcomeInput, 'outcome' | 'gatesPassed' | 'gatesTotal'>;

/**
 * What the run is credited with: its own signed verdict's outcome and gates, never the step's
 * claim (an insider's workflow code recorded thirty PASSes for tasks that never ran, found in
 * review). A run with no verdict (its agent failed by its own fault) is recorded a FAIL, no gate passed.
 */
async function judgedOutcome(db: Db, claimed: ParsedOutcomeInput, runId: string): Promise<Judged> {
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

/** What an outcome is credited under: the task type and context it adds to, its cost term, its times. */
interface CreditTerms {
  taskType: string;
  context?: string;
  costWeights: CostWeights;
  /** The time the cost term charges per minute: the agent's, no longer than since it was routed. */
  chargedMs: number;
}

/**
 * The terms from the record, not the step's input: the task type and context of the spec the run
 * validated, under the policy it read (the task type routing recorded for a run with no stored
 * spec; the language is the step's, as no record holds it), that policy's cost term, and a charged
 * time no longer than since the agent was routed. An insider's run credited a PASS to a task type
 * and context the task never had, and as a full failure under a cost term of its own choosing
 * (found in review). A run judged by a policy stored before policies were (`legacy`) keeps the
 * cost term and context it is handed.
 */
async function creditTerms(
  db: Db,
  run: RunKey,
  claimed: ParsedOutcomeInput,
  decision: RoutedDecision,
): Promise<CreditTerms> {
  const [read, spec] = await Promise.all([judgingPolicy(db, run), validatedSpec(db, run)]);
  const policy = read === 'legacy' ? undefined : read.policy;
  const context =
    claimed.context && (policy && spec ? routingContextOf(spec, policy, claimed.context.language) : claimed.context);
  return {
    taskType: spec?.mode ?? decision.taskType,
    ...(context ? { context: contextKey(context) } : {}),
    costWeights: policy ? (policy.routingCost ?? NO_COST_WEIGHTS) : claimed.costWeights,
    chargedMs: Math.min(claimed.agentMs ?? claimed.latencyMs, Math.max(0, Math.round(decision.ageMs))),
  };
}

/** Builds `recordTaskOutcome` and `recordAgentHealth`. */
export function createFeedbackActivities({ db }: ActivityDeps, breaker?: BreakerPolicy) {
  return {
    async recordTaskOutcome(raw: RecordTaskOutcomeInput): Promise<{ applied: boolean; reward: number }> {
      const claimed = parseActivityInput(RecordTaskOutcomeInput, raw);
      const run = currentRun();
      const decision = await routedDecision(db, claimed, run.runId);
      await requireOwnTask(db, claimed, run);
      const runKey = { tenantId: claimed.tenantId, taskId: claimed.taskId, runId: run.runId };
      const judged = await judgedOutcome(db, claimed, run.runId);
      const { costWeights, chargedMs, ...terms } = await creditTerms(db, runKey, claimed, decision);
      // At least what the gateway charged the run: the workflow counts the replies it kept, and a run
      // failed by a model call (a context overflow, a reply too large) had reported none of its usage.
      const charged = await gatewaySummary(db, claimed.tenantId, claimed.taskId, run.runId);
      const tokens = Math.max(claimed.tokens, charged.inputTokens + charged.outputTokens);
      // The column is a 32-bit integer: a run whose endpoint reported absurd counts still records its outcome.
      const usage = {
        tokens: Math.min(tokens, 2 ** 31 - 1),
        costUsd: Math.max(claimed.costUsd, charged.costUsd),
      };
      const gates = { passed: judged.gatesPassed, total: judged.gatesTotal };
      const reward = netReward(judged.outcome, gates, { ...usage, latencyMs: chargedMs }, costWeights);
      const applied = await recordOutcome(db, {
        ...{ tenantId: claimed.tenantId, taskId: claimed.taskId, agentId: claimed.agentId },
        ...judged,
        ...usage,
        ...terms,
        latencyMs: claimed.latencyMs,
        runId: run.runId,
        reward,
      });
      log.info('agent outcome recorded', { agentId: claimed.agentId, outcome: judged.outcome, reward, applied });
      return { applied, reward };
    },

    async recordAgentHealth(raw: RecordAgentHealthInput): Promise<{ applied: boolean }> {
      const input = parseActivityInput(RecordAgentHealthInput, raw);
      const run = currentRun();
      await requireRoutedAgent(db, input);
      await requireOwnTask(db, input, run);
      // Refused for its pause (AgentNotActiveError), a run says nothing of the agent's health; nor may a pause open its circuit.
      if (!input.ok && (await getAgent(db, input.agentId)).status !== 'active') return { applied: false };
      const applied = await recordAgentHealth(db, { ...input, runId: run.runId }, breaker);
      log.info('agent health recorded', { agentId: input.agentId, ok: input.ok, applied });
      return { applied };
    },
  };
}
