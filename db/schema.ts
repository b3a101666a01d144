/**
 * Arbiter's domain record. Every table carries `tenant_id` so one database can serve many
 * tenants and every query can be scoped. Temporal holds the execution; these rows hold what
 * happened, for audit, routing statistics and operators who never open Temporal.
 */
import { sql } from 'drizzle-orm';
import { storableJson } from '../domain/bounds';
import type { PolicyProvenance, RoutingDecision } from '../domain/activity-io';
import type { RepoPolicy } from '../domain/repo-policy';
import type { PolicyViolation } from '../domain/sandbox';
import type { AgentStatus } from '../domain/agent';
import type { TaskState } from '../domain/lifecycle';
import type { GateSource, VerdictOutcome } from '../domain/task';
import type { VerdictPayload } from '../domain/verdict';
import type { MeasuredStats } from '../domain/diff';
import type { SignedDecision } from '../domain/approval';
import {
  bigint,
  bigserial,
  doublePrecision,
  boolean,
  check,
  customType,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  index,
} from 'drizzle-orm/pg-core';

/**
 * A jsonb column written with its NULs as `\0` (domain/bounds.ts `storableJson`): jsonb refuses
 * JSON's `\u0000`, and a gate's detail, a refused tool call or a waiver's reason may quote a NUL
 * that an agent, a model or a submitter sent. Read as drizzle's own jsonb reads.
 */
const jsonb = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => 'jsonb',
  toDriver: (value) => storableJson(value),
  fromDriver: (value) => (typeof value === 'string' ? parsedOr(value) : value),
});

function parsedOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

/**
 * The Temporal run that wrote a record. A verdict (and everything it rests on) belongs to one run,
 * so records are keyed by it; rows written before run scoping carry '' and match no run.
 */
const runId = () => text('run_id').notNull().default('');

/**
 * One row per task; denormalised latest state for listing without Temporal. `run_id` is the run
 * that owns the task: a task id runs once, so a run may take over only a task that never ended.
 */
export const tasks = pgTable(
  'tasks',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    workflowId: text('workflow_id').notNull(),
    runId: runId(),
    state: text('state').$type<TaskState>().notNull(),
    /** seq of the transition `state` came from; a late, older write never overwrites a newer one. */
    lastSeq: integer('last_seq').notNull().default(-1),
    repoPath: text('repo_path'),
    specId: text('spec_id'),
    riskTier: integer('risk_tier'),
    agentId: text('agent_id'),
    verdict: text('verdict'),
    error: text('error'),
    /** The run that claimed the delivery (activities/delivery.ts): no other run delivers or takes the task over. */
    deliveringRunId: text('delivering_run_id'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    index('tasks_state_idx').on(t.tenantId, t.state),
    index('tasks_active_idx')
      .on(t.tenantId, t.id, t.runId)
      .where(sql`${t.state} NOT IN ('COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED')`),
  ],
);

/** Every lifecycle transition; `(tenant_id, task_id, run_id, seq)` makes recording idempotent within a run. */
export const taskEvents = pgTable(
  'task_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    seq: integer('seq').notNull(),
    fromState: text('from_state'),
    toState: text('to_state').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    note: text('note'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('task_events_run_seq_uq').on(t.tenantId, t.taskId, t.runId, t.seq)],
);

/** Agent registry. `tenant_id` null means the agent serves every tenant. */
export const agents = pgTable(
  'agents',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id'),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    config: jsonb('config')
      .$type<Record<string, unknown>>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    capabilities: jsonb('capabilities')
      .notNull()
      .default(sql`'{}'::jsonb`),
    maxConcurrency: integer('max_concurrency').notNull().default(1),
    status: text('status').$type<AgentStatus>().notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('agents_status_idx').on(t.status)],
);

/** Why a task went to an agent: the pick and every alternative considered, once per run. */
export const routingDecisions = pgTable(
  'routing_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    agentId: text('agent_id').notNull(),
    taskType: text('task_type').notNull(),
    reason: text('reason').notNull(),
    exploration: boolean('exploration').notNull().default(false),
    candidates: jsonb('candidates').$type<RoutingDecision['candidates']>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('routing_decisions_run_uq').on(t.tenantId, t.taskId, t.runId)],
);

/**
 * The repository policy each run's `loadRepoPolicy` read, as it read it. The steps that judge by a
 * policy take it from here, not from what their workflow hands over: anyone who may write to the
 * namespace can complete `loadRepoPolicy` by hand, or run workflow code of their own. A row with
 * no policy marks a task whose run read its policy before policies were stored (migration 0018).
 */
export const runPolicies = pgTable(
  'run_policies',
  {
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: text('run_id').notNull(),
    policy: jsonb('policy').$type<RepoPolicy>(),
    provenance: jsonb('provenance').$type<PolicyProvenance>(),
    /** The registered repository the policy was read from; none on rows stored before migration 0020. */
    repoPath: text('repo_path'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.taskId, t.runId], name: 'run_policies_pk' })],
);

/**
 * The check running on a change now, per task, tree and gate name: a failure stands once stored,
 * so no second run of the check may start (and pass) before the first has stored its result.
 */
export const gateClaims = pgTable(
  'gate_claims',
  {
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    treeId: text('tree_id').notNull(),
    name: text('name').notNull(),
    /** The activity running the check (workflow, run and activity id), for whoever finds it held. */
    holder: text('holder').notNull(),
    /** This taking of the claim: only it renews or gives the claim up, not another attempt of the same activity. */
    token: text('token').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.taskId, t.treeId, t.name], name: 'gate_claims_pk' })],
);

/** Evidence of each verification gate, per attempt; every result is a row, a retried gate's too, so a failure is never replaced. */
export const gateResults = pgTable(
  'gate_results',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    attempt: integer('attempt').notNull().default(1),
    /** The tree the gate judged; absent from rows stored before results named it. */
    treeId: text('tree_id'),
    /** The base an Arbiter gate measured the tree's change from; absent for command gates and older rows. */
    baseCommit: text('base_commit'),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    status: text('status').notNull(),
    detail: text('detail').notNull(),
    exitCode: integer('exit_code'),
    durationMs: integer('duration_ms'),
    outputDigest: text('output_digest'),
    outputTail: text('output_tail'),
    /**
     * The digest of the spec that fixed the gate (Arbiter's gates judge by its budget and scope, an
     * acceptance gate runs its test): a verdict naming another spec may not borrow the row. Absent
     * for the policy's commands and for rows stored before migration 0025.
     */
    specDigest: text('spec_digest'),
    /** Where the gate came from (Arbiter, the policy, the spec, the submitter); absent before migration 0026. */
    source: text('source').$type<GateSource>(),
    /** The command a command gate ran; absent for Arbiter's gates and rows stored before migration 0026. */
    argv: jsonb('argv').$type<string[]>(),
    createdAt: createdAt(),
  },
  (t) => [
    index('gate_results_run_attempt_name_idx').on(t.tenantId, t.taskId, t.runId, t.attempt, t.name),
    index('gate_results_task_tree_idx').on(t.tenantId, t.taskId, t.treeId),
  ],
);

/** Human waivers in the CAWS shape (WV-NNNN), applied to budgets while active and unexpired. */
export const waivers = pgTable(
  'waivers',
  {
    tenantId: text('tenant_id').notNull(),
    id: text('id').notNull(),
    taskId: text('task_id'),
    title: text('title'),
    gates: jsonb('gates')
      .$type<string[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** CAWS's shape: the budget increase a waiver grants. */
    delta: jsonb('delta')
      .$type<{ max_files?: number; max_loc?: number }>()
      .notNull()
      .default(sql`'{}'::jsonb`),
    reasonCode: text('reason_code').notNull(),
    justification: text('justification'),
    approvers: jsonb('approvers')
      .$type<Array<{ handle: string; approved_at: string; key_id?: string }>>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** The spec the waiver was approved for: a spec's `waiver_ids` may use it only under this id. */
    specId: text('spec_id'),
    /** The signed decisions that granted it, as sent (claim, key id, signature). */
    approvals: jsonb('approvals')
      .$type<SignedDecision[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** The risk tier it was granted at (migration 0031): its approvers must still decide at it. */
    riskTier: integer('risk_tier'),
    /** The one task run that used it; a waiver applies once. */
    usedByTask: text('used_by_task'),
    usedByRun: text('used_by_run'),
    status: text('status').notNull().default('active'),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/** The verdict of each run of a task: payload, its digest and the signed envelope bytes. */
export const verdicts = pgTable(
  'verdicts',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    outcome: text('outcome').$type<VerdictOutcome>().notNull(),
    digest: text('digest').notNull(),
    payload: jsonb('payload').$type<VerdictPayload>().notNull(),
    envelope: text('envelope'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('verdicts_run_uq').on(t.tenantId, t.taskId, t.runId)],
);

/** Append-only, hash-chained log per tenant; a broken link means tampering. */
export const provenanceEvents = pgTable(
  'provenance_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    seq: integer('seq').notNull(),
    /** What the event is about, once: a retried append with the same key adds nothing. */
    eventKey: text('event_key').notNull(),
    kind: text('kind').notNull(),
    subject: text('subject').notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('provenance_tenant_seq_uq').on(t.tenantId, t.seq),
    check('provenance_events_seq_from_zero', sql`${t.seq} >= 0`),
    uniqueIndex('provenance_tenant_key_uq').on(t.tenantId, t.eventKey),
  ],
);

/**
 * Signed heads of each tenant's provenance chain (see domain/provenance-checkpoint.ts). The
 * envelope is the truth; the other columns repeat its statement so checkpoints can be queried.
 */
export const provenanceCheckpoints = pgTable(
  'provenance_checkpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    seq: integer('seq').notNull(),
    headHash: text('head_hash').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
    keyId: text('key_id').notNull(),
    /** The DSSE envelope, verbatim as signed. */
    envelope: text('envelope').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('provenance_checkpoints_tenant_seq_key_uq').on(t.tenantId, t.seq, t.keyId)],
);

/** Large outputs (patches, logs) kept out of workflow history; the workflow passes the id. `run_id` names the run that stored it. */
export const artifacts = pgTable(
  'artifacts',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    kind: text('kind').notNull(),
    digest: text('digest').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    /** `utf8` text, or `base64` for bytes that must survive exactly (patches). */
    encoding: text('encoding').notNull().default('utf8'),
    content: text('content').notNull(),
    /** A patch's tree and the base it was measured from (migration 0022; absent from patches stored before). */
    treeId: text('tree_id'),
    baseCommit: text('base_commit'),
    /** A validated spec's: the digest of the text it was validated from (migration 0023). */
    sourceDigest: text('source_digest'),
    /** A patch's measurement, as measureDiff made it (migration 0024; absent from patches stored before). */
    stats: jsonb('stats').$type<MeasuredStats>(),
    createdAt: createdAt(),
  },
  (t) => [index('artifacts_task_idx').on(t.tenantId, t.taskId)],
);

/**
 * Every file-tool operation and command an agent (or gate) performed or attempted, allowed or
 * refused and why: the sandbox's audit trail and the task's policy-violation events.
 */
export const sandboxEvents = pgTable(
  'sandbox_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    kind: text('kind').notNull(),
    op: text('op').notNull(),
    path: text('path'),
    allowed: boolean('allowed').notNull(),
    reason: text('reason'),
    bytes: integer('bytes'),
    digestBefore: text('digest_before'),
    digestAfter: text('digest_after'),
    detail: jsonb('detail')
      .notNull()
      .default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [index('sandbox_events_task_idx').on(t.tenantId, t.taskId)],
);

/**
 * Routing evidence per tenant, agent and task type: the bandit's posterior and the running
 * totals. Per tenant, so one tenant's outcomes never steer another's routing.
 */
export const agentStats = pgTable(
  'agent_stats',
  {
    tenantId: text('tenant_id').notNull(),
    agentId: text('agent_id').notNull(),
    taskType: text('task_type').notNull(),
    tasks: integer('tasks').notNull().default(0),
    successes: doublePrecision('successes').notNull().default(0),
    failures: doublePrecision('failures').notNull().default(0),
    totalLatencyMs: bigint('total_latency_ms', { mode: 'number' }).notNull().default(0),
    totalTokens: bigint('total_tokens', { mode: 'number' }).notNull().default(0),
    totalCostUsd: doublePrecision('total_cost_usd').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.agentId, t.taskType] })],
);

/**
 * Routing evidence per tenant, agent and context (task type, risk tier, size class: see
 * domain/routing-context.ts), beside the per-type record in `agent_stats` that backs it.
 */
export const agentContextStats = pgTable(
  'agent_context_stats',
  {
    tenantId: text('tenant_id').notNull(),
    agentId: text('agent_id').notNull(),
    context: text('context').notNull(),
    tasks: integer('tasks').notNull().default(0),
    successes: doublePrecision('successes').notNull().default(0),
    failures: doublePrecision('failures').notNull().default(0),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'agent_context_stats_pk', columns: [t.tenantId, t.agentId, t.context] })],
);

/**
 * Each tenant's circuit breaker per agent. A tenant's reports open and close its own circuit only:
 * the reports come from its runs, which its own workflow code may write (migration 0028).
 */
export const agentCircuits = pgTable(
  'agent_circuits',
  {
    tenantId: text('tenant_id').notNull(),
    agentId: text('agent_id').notNull(),
    /** Infrastructure failures in a row; at the threshold the circuit opens. */
    consecutiveInfraFailures: integer('consecutive_infra_failures').notNull().default(0),
    /** While in the future the router skips the agent for the tenant; after it, one probe task is let through. */
    circuitOpenUntil: timestamp('circuit_open_until', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'agent_circuits_pk', columns: [t.tenantId, t.agentId] })],
);

/**
 * One row per finished task: the guard that makes statistics update exactly once. It names the
 * run that recorded it, and another run's outcome for the same task is refused, never counted.
 */
export const agentOutcomes = pgTable(
  'agent_outcomes',
  {
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    agentId: text('agent_id').notNull(),
    taskType: text('task_type').notNull(),
    outcome: text('outcome').notNull(),
    reward: doublePrecision('reward').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    tokens: integer('tokens').notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.taskId] })],
);

/** One model conversation of an `openai` agent run (of one workflow run); its messages live below, not in history. */
export const conversations = pgTable(
  'conversations',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    agentId: text('agent_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('conversations_task_idx').on(t.tenantId, t.taskId)],
);

/**
 * The transcript: every message in order. `turn` ties assistant messages to the model call that
 * produced them and `tool_call_id` tool results to their call, which is what makes resuming a
 * conversation after a crash repeat no completed model call or tool call.
 */
export const conversationMessages = pgTable(
  'conversation_messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    conversationId: text('conversation_id').notNull(),
    seq: integer('seq').notNull(),
    role: text('role').notNull(),
    turn: integer('turn'),
    content: text('content'),
    toolCalls:
      jsonb('tool_calls').$type<Array<{ id: string; type?: string; function: { name: string; arguments: string } }>>(),
    toolCallId: text('tool_call_id'),
    /** For a refused tool call: the policy violation, so a resumed run still reports it. */
    violation: jsonb('violation').$type<PolicyViolation>(),
    promptTokens: integer('prompt_tokens'),
    completionTokens: integer('completion_tokens'),
    costUsd: doublePrecision('cost_usd'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('conversation_messages_seq_uq').on(t.conversationId, t.seq),
    uniqueIndex('conversation_messages_turn_uq').on(t.conversationId, t.turn),
    uniqueIndex('conversation_messages_tool_uq').on(t.conversationId, t.toolCallId),
  ],
);

/** Who may approve waivers for a tenant, at which risk tiers, with which key. */
export const approvers = pgTable(
  'approvers',
  {
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    tiers: jsonb('tiers')
      .$type<number[]>()
      .notNull()
      .default(sql`'[1,2,3]'::jsonb`),
    active: boolean('active').notNull().default(true),
    /** `ed25519:<base64 raw key>`: the only key whose signature counts as this approver's decision. */
    keyId: text('key_id'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.name] }),
    uniqueIndex('approvers_tenant_key_uq').on(t.tenantId, t.keyId),
  ],
);

/** Every waiver decision an approver made: the audit trail and the basis of the rate limit. */
export const waiverDecisions = pgTable(
  'waiver_decisions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    approver: text('approver').notNull(),
    decision: text('decision').notNull(),
    detail: jsonb('detail')
      .notNull()
      .default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [
    index('waiver_decisions_approver_idx').on(t.tenantId, t.approver, t.createdAt),
    // A signed decision counts once per task, however often its authorisation is retried.
    uniqueIndex('waiver_decisions_signature_uq').on(t.tenantId, t.taskId, sql`(${t.detail}->>'signature')`),
  ],
);

/** One health report per agent per run: the guard that makes a retried report count once (and a task's first, only). */
export const agentHealthReports = pgTable(
  'agent_health_reports',
  {
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: text('run_id').notNull(),
    agentId: text('agent_id').notNull(),
    ok: boolean('ok').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: 'agent_health_reports_pk', columns: [t.tenantId, t.taskId, t.runId, t.agentId] })],
);

/**
 * Repositories a tenant's tasks may name. A task carries only the name; the worker resolves it
 * here under the task's tenant, so no submitter chooses a path on the worker.
 */
export const repos = pgTable(
  'repos',
  {
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    /** Absolute, resolved path of the git repository on the worker hosts. */
    path: text('path').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.name] })],
);

/**
 * Which database roles may read which tenant through the CLI's role (`arbiter tenants grant`).
 * Row-level security consults it, so setting `app.tenant_id` to a tenant not granted shows nothing.
 */
export const tenantMembers = pgTable(
  'tenant_members',
  {
    roleName: text('role_name').notNull(),
    tenantId: text('tenant_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roleName, t.tenantId] })],
);

/**
 * Every model call the gateway forwarded for an agent run: what was asked and answered (by
 * digest, and the bodies themselves up to a cap), the tokens and cost, and how long it took.
 * Refused calls are not here: they are sandbox events, with their reason.
 */
export const modelCalls = pgTable(
  'model_calls',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: text('tenant_id').notNull(),
    taskId: text('task_id').notNull(),
    runId: runId(),
    agentId: text('agent_id').notNull(),
    sessionId: text('session_id').notNull(),
    purpose: text('purpose').notNull(),
    upstream: text('upstream').notNull(),
    protocol: text('protocol').notNull(),
    method: text('method').notNull(),
    path: text('path').notNull(),
    model: text('model'),
    status: integer('status').notNull(),
    streamed: boolean('streamed').notNull(),
    requestDigest: text('request_digest').notNull(),
    responseDigest: text('response_digest').notNull(),
    requestBody: text('request_body').notNull(),
    responseBody: text('response_body').notNull(),
    /** True when a body above was cut at the storage cap (the digests cover all of it). */
    truncated: boolean('truncated').notNull().default(false),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    costUsd: doublePrecision('cost_usd').notNull().default(0),
    latencyMs: integer('latency_ms').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('model_calls_run_idx').on(t.tenantId, t.taskId, t.runId)],
);
