/**
 * Parameter and result shapes of every activity. One object parameter each, typed from a zod
 * schema, so adding a field later never breaks a history already recorded, and activities can
 * re-check their input at the boundary.
 */
import { z } from 'zod';
import { ArgvWord } from './argv-word';
import { SignedDecisionSchema } from './approval';
import { TASK_STATES } from './lifecycle';
import { GateCommandSchema, IdPartSchema, RepoNameSchema, VERDICT_OUTCOMES } from './task';
import { GATE_MODES, MAX_ATTEMPTS_LIMIT, type RepoPolicy } from './repo-policy';
import { MAX_FEEDBACK_CHARACTERS } from './retry-feedback';
import { CostWeightsSchema, NO_COST_WEIGHTS, RoutingContextSchema } from './routing-context';
import { MAX_CANDIDATES, type CandidateEvidence } from './candidates';
import type { RiskTier, SpecFormat, WorkingSpec } from './spec';
import type { AttemptRecord, GateResult, VerdictOutcome } from './task';
import type { DiffSummary } from './diff';
import type { PolicyViolation } from './sandbox';
import { GIT_OBJECT_ID } from './ids';
import { isFilledContract } from './contracts';

/** `measureDiff` returns it, so activity code finds it beside the other activity shapes. */
export type { DiffSummary } from './diff';

const TaskKey = { tenantId: IdPartSchema, taskId: IdPartSchema };
const SpecSchema = z.custom<WorkingSpec>((v) => typeof v === 'object' && v !== null, 'spec must be a normalised spec');
/** Where a stored spec is: an artifact id and the digest its bytes must still have. */
export const SpecRefSchema = z.object({ artifactId: z.string(), digest: z.string() });
/** A stored spec, by reference. */
export type SpecRef = z.infer<typeof SpecRefSchema>;
/** The spec an activity works to: its stored reference, or the whole spec from runs validated before specs were stored. */
export const SpecOrRefSchema = z.union([SpecRefSchema, SpecSchema]);
const GitObjectId = z.string().regex(GIT_OBJECT_ID, 'must be a full git object id');

/** A lifecycle transition to persist; `seq` makes the write idempotent across retries and replays. */
export const RecordTransitionInput = z.object({
  ...TaskKey,
  workflowId: z.string(),
  seq: z.number().int().nonnegative(),
  from: z.enum(TASK_STATES).nullable(),
  to: z.enum(TASK_STATES),
  at: z.string(),
  note: z.string().optional(),
  /** Task columns known at this point, denormalised onto the task row. */
  task: z
    .object({
      repoPath: z.string().optional(),
      specId: z.string().optional(),
      riskTier: z.number().int().optional(),
      agentId: z.string().optional(),
      verdict: z.string().optional(),
      error: z.string().optional(),
    })
    .default({}),
});
/** Input of `recordTransition`. */
export type RecordTransitionInput = z.input<typeof RecordTransitionInput>;

/** Raw spec text in; the format may be forced (`current` rejects legacy fields). */
export const ValidateSpecInput = z.object({
  ...TaskKey,
  specYaml: z.string(),
  specFormat: z.enum(['auto', 'current', 'legacy']).default('auto'),
});
/** Input of `validateSpec`. */
export type ValidateSpecInput = z.input<typeof ValidateSpecInput>;
/**
 * What the workflow keeps of a validated spec: the fields its own steps read. The whole spec
 * (scope, contracts, anything a submitter wrote in it) is stored and travels by reference, so
 * a spec full of contracts costs a cached run nothing.
 */
export interface SpecEssentials {
  id: string;
  title: string;
  riskTier: RiskTier;
  mode: string;
  format: SpecFormat;
  changeBudget?: { maxFiles: number; maxLoc: number };
  /** The criteria with a `test_command`, each a gate of its own. */
  acceptance: Array<{ id: string; testCommand?: string }>;
  /** Whether a contract names something; absent from results recorded before it was kept. */
  hasContract?: boolean;
}

/** The fields of `spec` the workflow keeps. */
export function specEssentials(spec: WorkingSpec): SpecEssentials {
  const { id, title, riskTier, mode, format, changeBudget } = spec;
  const acceptance = spec.acceptance
    .filter((a) => a.testCommand)
    .map((a) => ({ id: a.id, testCommand: a.testCommand }));
  const hasContract = spec.contracts.some(isFilledContract);
  return { id, title, riskTier, mode, format, ...(changeBudget ? { changeBudget } : {}), acceptance, hasContract };
}

/**
 * The spec's essentials, its warnings, the digest of the exact text validated, and where the
 * whole spec is stored. Results recorded before specs were stored carry the whole spec and no
 * reference; results recorded before essentials carry the whole spec beside a reference.
 */
export interface ValidateSpecResult {
  spec: SpecEssentials;
  warnings: string[];
  specDigest: string;
  specRef?: SpecRef;
}

/** Where the spec a task run validated is stored: one artifact per run. */
export function taskSpecArtifactId(run: { tenantId: string; taskId: string; runId: string }): string {
  return `spec/${run.tenantId}/${run.taskId}/${run.runId}`;
}

/** What routing needs: the task type (the spec's mode) and an optional requested agent. */
export const RouteTaskInput = z.object({
  ...TaskKey,
  taskType: z.string(),
  agentHint: IdPartSchema.optional(),
  /** The task's context; absent from decisions asked before contexts, which weigh the task type alone. */
  context: RoutingContextSchema.optional(),
});
/** Input of `routeTask`. */
export type RouteTaskInput = z.input<typeof RouteTaskInput>;
/** The chosen agent and every candidate considered, as recorded. */
export interface RoutingDecision {
  agentId: string;
  agentKind: string;
  reason: string;
  /** True when the bandit picked an agent other than the one with the best posterior mean. */
  exploration: boolean;
  candidates: Array<{ agentId: string; eligible: boolean; score: number; reason: string }>;
  /** The agent's own limit on one run ({@link agentRunSeconds}); its `executeAgent` timeout follows it. */
  maxRunSeconds?: number;
}

/**
 * Which policy judged the change: the file's digest (or `default`), where it was read, and the
 * commit of the repository's trusted ref it was read at. Never the submitter's base.
 */
export interface PolicyProvenance {
  source: 'default' | 'current' | 'legacy';
  /** `sha256:<hex>` of the policy file's exact bytes, or `default` when the repository has none. */
  digest: string;
  file: string | null;
  ref: string;
  commit: string;
}

/** A task's repository name, to be looked up among its tenant's registrations. */
export const ResolveRepoInput = z.object({ ...TaskKey, repo: RepoNameSchema });
/** Input of `resolveRepo`. */
export type ResolveRepoInput = z.input<typeof ResolveRepoInput>;
/** The registered repository a name stands for: its absolute path on the worker hosts. */
export interface ResolvedRepo {
  repo: string;
  path: string;
}

/** The target repository whose trusted ref holds the policy. */
export const LoadRepoPolicyInput = z.object({ ...TaskKey, repoPath: z.string() });
/** Input of `loadRepoPolicy`. */
export type LoadRepoPolicyInput = z.input<typeof LoadRepoPolicyInput>;
/** The repository's policy as read from its trusted ref once per run, and where it came from. */
export interface TrustedPolicy {
  policy: RepoPolicy;
  provenance: PolicyProvenance;
}

/** The target repository and the commit-ish to start from. */
export const PrepareWorkspaceInput = z.object({ ...TaskKey, repoPath: z.string(), baseRef: z.string().optional() });
/** Input of `prepareWorkspace`. */
export type PrepareWorkspaceInput = z.input<typeof PrepareWorkspaceInput>;
/** Where the workspace is and which worker holds it: later workspace steps run on `hostQueue`. */
export interface PreparedWorkspace {
  workspacePath: string;
  baseCommit: string;
  hostQueue: string;
}

/** Names the task whose workspace can go; `keep` retains it for inspection (the task did not complete). */
export const ReleaseWorkspaceInput = z.object({ ...TaskKey, keep: z.boolean().default(false) });
/** Input of `releaseWorkspace`. */
export type ReleaseWorkspaceInput = z.input<typeof ReleaseWorkspaceInput>;

/** The attempt number every workspace step of a task's first attempt has. */
const Attempt = z.number().int().min(1).max(MAX_ATTEMPTS_LIMIT).default(1);

/**
 * A retry of the agent after its change failed blocking gates: the workspace starts from that
 * change's tree, the agent is told why it failed, and its wall-clock budget runs from the first
 * attempt's start.
 */
export const AgentRetrySchema = z.object({
  attempt: z.number().int().min(2).max(MAX_ATTEMPTS_LIMIT),
  /** The failed change's tree; absent when its workspace was lost and the agent starts from the base. */
  fromTree: GitObjectId.optional(),
  feedback: z
    .string()
    .min(1)
    .max(MAX_FEEDBACK_CHARACTERS + 100),
  /** Epoch milliseconds when the first attempt's agent started. */
  startedAt: z.number().int().nonnegative(),
});

/** The routed agent, the workspace (reset to `baseCommit`, or a retry's tree, first) and the spec it works to. */
export const ExecuteAgentInput = z.object({
  ...TaskKey,
  agentId: z.string(),
  workspacePath: z.string(),
  baseCommit: GitObjectId,
  spec: SpecOrRefSchema,
  retry: AgentRetrySchema.optional(),
});
/** The repository's setup, run in a freshly prepared workspace before the agent. */
export const InstallDependenciesInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  baseCommit: GitObjectId,
  setup: z
    .object({
      argv: z.array(z.string().min(1)).min(1),
      outputs: z.array(z.string().min(1)).min(1),
      registries: z.array(z.string()),
      timeoutSeconds: z.number().int().positive(),
    })
    .strict(),
});
/** Input of `installDependencies`. */
export type InstallDependenciesInput = z.input<typeof InstallDependenciesInput>;

/** Input of `executeAgent`. */
export type ExecuteAgentInput = z.input<typeof ExecuteAgentInput>;
/** What the agent did, in a line. */
export interface AgentRunResult {
  agentId: string;
  stepsApplied: number;
  summary: string;
  /** Model tokens and cost the run used (0 for agents without a model). */
  tokens?: number;
  costUsd?: number;
}

/** The workspace and the commit its change is measured against. */
export const MeasureDiffInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  baseCommit: GitObjectId,
  /** Each attempt's patch is stored apart, so every attempt's change stays readable. */
  attempt: Attempt,
});
/** Input of `measureDiff`. */
export type MeasureDiffInput = z.input<typeof MeasureDiffInput>;

/** The measured tree and the spec whose budget and scope it must meet. */
export const CheckBudgetAndScopeInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  baseCommit: GitObjectId,
  treeId: GitObjectId,
  spec: SpecOrRefSchema,
  policy: z.custom<RepoPolicy>(
    (v) => typeof v === 'object' && v !== null,
    'policy must be a normalised repository policy',
  ),
  specWarnings: z.array(z.string()).default([]),
  leftBehind: z
    .object({ count: z.number().int().nonnegative(), paths: z.array(z.string()) })
    .default({ count: 0, paths: [] }),
  nestedRepositories: z.array(z.string()).default([]),
  /** The trusted ref's commit the policy was read at: protected paths the base changed since leaving it are caught too. */
  trustedCommit: GitObjectId,
  attempt: Attempt,
});
/** Input of `checkBudgetAndScope`. */
export type CheckBudgetAndScopeInput = z.input<typeof CheckBudgetAndScopeInput>;

/** One gate command to run on a fresh checkout of `treeId`, with who asked for it and the policy's mode for it. */
export const RunGateInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  treeId: GitObjectId,
  gate: GateCommandSchema.extend({ argv: z.array(ArgvWord).min(1) }),
  source: z.enum(['policy', 'acceptance', 'submitter']),
  mode: z.enum(GATE_MODES).default('block'),
  attempt: Attempt,
});
/** Input of `runGate`. */
export type RunGateInput = z.input<typeof RunGateInput>;

/** Everything the verdict states. */
export const IssueVerdictInput = z.object({
  ...TaskKey,
  specId: z.string(),
  specDigest: z.string(),
  agentId: z.string(),
  baseCommit: GitObjectId,
  diff: z.custom<DiffSummary>(),
  gates: z.array(z.custom<GateResult>()),
  policy: z.custom<PolicyProvenance>(
    (v) => typeof v === 'object' && v !== null,
    'policy must name the policy that judged the change',
  ),
  /** Waivers applied; a verdict with waivers and no failing gate is WAIVED. */
  waivers: z.array(z.string()).default([]),
  /** The spec's CAWS risk tier: the verification summary's level is named after it. */
  riskTier: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  /**
   * Not read: the verdict's time is when the server scheduled the step. Still sent, for a worker of
   * the release before, which signs it, to run the step during a rolling upgrade.
   */
  verifiedAt: z.string().datetime().optional(),
  /** The target repository as the task names it; with the base commit, the summary's resource URI. */
  repo: z.string().min(1),
  /** Attempts before the judged one, whose gates failed; the verdict names each. */
  attempts: z.array(z.custom<AttemptRecord>()).max(MAX_ATTEMPTS_LIMIT).default([]),
  /**
   * The candidate run whose change the verdict judges (best of N): the waivers that run used, with
   * their signed approvals, are read from its records and carried into this verdict.
   */
  adoptedFrom: z.object({ index: z.number().int().min(1).max(MAX_CANDIDATES), runId: z.string().min(1) }).optional(),
  /** A best-of-N task's candidates, as assessed, and why the judged one was chosen. */
  candidates: z
    .object({ assessed: z.array(z.custom<CandidateEvidence>()).max(MAX_CANDIDATES), reason: z.string() })
    .optional(),
});
/** Input of `issueVerdict`. */
export type IssueVerdictInput = z.input<typeof IssueVerdictInput>;
/** The stored verdict. */
export interface IssuedVerdict {
  verdictId: string;
  outcome: VerdictOutcome;
  digest: string;
}

/**
 * Delivery works from the stored patch, not a workspace, so any worker can deliver and what
 * lands is byte for byte the verified tree. `deliveredAt` fixes the commit's dates, making the
 * commit id the same on every retry.
 */
export const DeliverChangeInput = z.object({
  ...TaskKey,
  /** The registered repository name the verdict's resource URI must name. */
  repo: z.string().min(1),
  repoPath: z.string(),
  baseCommit: GitObjectId,
  treeId: GitObjectId,
  artifactId: z.string(),
  patchDigest: z.string(),
  specId: z.string(),
  verdictDigest: z.string(),
  deliveredAt: z.string(),
});
/** Input of `deliverChange`. */
export type DeliverChangeInput = z.input<typeof DeliverChangeInput>;
/** Where the change landed. */
export interface Delivery {
  branch: string;
  commit: string;
}

/** A finished task's result for its agent's statistics (applied once per task). */
export const RecordTaskOutcomeInput = z
  .object({
    ...TaskKey,
    agentId: z.string(),
    taskType: z.string(),
    outcome: z.enum(VERDICT_OUTCOMES),
    gatesPassed: z.number().int().nonnegative(),
    gatesTotal: z.number().int().nonnegative(),
    latencyMs: z.number().int().nonnegative(),
    /** The agent's own running time over its attempts: what the cost term charges per minute (else `latencyMs`). */
    agentMs: z.number().int().nonnegative().optional(),
    tokens: z.number().int().nonnegative().default(0),
    costUsd: z.number().nonnegative().default(0),
    /** The task's routing context, whose record the outcome also adds to. */
    context: RoutingContextSchema.optional(),
    /** The policy's cost term, taken off the verdict's reward. */
    costWeights: CostWeightsSchema.default(NO_COST_WEIGHTS),
  })
  .refine((i) => i.gatesPassed <= i.gatesTotal, { message: 'more gates passed than ran', path: ['gatesPassed'] });
/** Input of `recordTaskOutcome`. */
export type RecordTaskOutcomeInput = z.input<typeof RecordTaskOutcomeInput>;

/** N distinct agents for a best-of-N task, best first (fewer capable agents: the best ones again). */
export const ProposeAgentsInput = z.object({
  ...TaskKey,
  taskType: z.string(),
  context: RoutingContextSchema,
  count: z.number().int().min(2).max(MAX_CANDIDATES),
});
/** Input of `proposeAgents`. */
export type ProposeAgentsInput = z.input<typeof ProposeAgentsInput>;

/** The candidates of a task as they ended: each by its index and the run the task started for it. */
export const AssessCandidatesInput = z.object({
  ...TaskKey,
  candidates: z
    .array(z.object({ index: z.number().int().min(1).max(MAX_CANDIDATES), runId: z.string().min(1) }))
    .min(1)
    .max(MAX_CANDIDATES),
});
/** Input of `assessCandidates`. */
export type AssessCandidatesInput = z.input<typeof AssessCandidatesInput>;

/** The winning candidate to take over: its run, and the policy the task was judged by (it must be the same). */
export const AdoptCandidateInput = z.object({
  ...TaskKey,
  index: z.number().int().min(1).max(MAX_CANDIDATES),
  runId: z.string().min(1),
  policyDigest: z.string(),
});
/** Input of `adoptCandidate`. */
export type AdoptCandidateInput = z.input<typeof AdoptCandidateInput>;
/** What the task takes over from its winner: the change (its patch now the task's own) and its evidence. */
export interface AdoptedCandidate {
  agentId: string;
  baseCommit: string;
  diff: DiffSummary;
  gates: GateResult[];
  verdictDigest: string;
}

/** Whether an agent's run failed for infrastructure reasons (feeds its circuit breaker). */
export const RecordAgentHealthInput = z.object({ ...TaskKey, agentId: z.string(), ok: z.boolean() });
/** Input of `recordAgentHealth`. */
export type RecordAgentHealthInput = z.input<typeof RecordAgentHealthInput>;

/** Starts (or finds) the transcript of one agent run; the id is chosen by the workflow. */
export const StartConversationInput = z.object({
  ...TaskKey,
  agentId: z.string(),
  conversationId: z.string(),
  spec: SpecOrRefSchema,
  /** A retry's feedback, added as a user turn after whatever the transcript holds (once). */
  feedback: z
    .string()
    .min(1)
    .max(MAX_FEEDBACK_CHARACTERS + 100)
    .optional(),
});
/** Input of `startConversation`. */
export type StartConversationInput = z.input<typeof StartConversationInput>;
/** The run's limits, from the agent's config. */
export const ConversationLimitsSchema = z.object({
  maxTurns: z.number().int().positive(),
  maxTokens: z.number().nonnegative(),
  maxWallClockSeconds: z.number().positive(),
});
/** The run's limits, from the agent's config. */
export type ConversationLimits = z.infer<typeof ConversationLimitsSchema>;
/** What `startConversation` returns: the limits, and the spec stored for the tool calls (they read it by reference). */
export interface StartedConversation extends ConversationLimits {
  /** Absent from results recorded before specs were stored. */
  spec?: SpecRef;
}

/** One model turn; a turn already answered is returned from the transcript, never asked again. */
/**
 * Where the workflow's agent clock starts (epoch ms): the agent's own running time so far, gates
 * and waits between attempts left out. The worker stops model requests and commands by it; absent
 * (runs scheduled before it travelled), the workflow's check between turns alone holds.
 */
const AgentClockStart = z.number().int().nonnegative().optional();

export const CallModelInput = z.object({
  ...TaskKey,
  agentId: z.string(),
  conversationId: z.string(),
  turn: z.number().int().positive(),
  agentClockStart: AgentClockStart,
});
/** Input of `callModel`. */
export type CallModelInput = z.input<typeof CallModelInput>;
/**
 * A model reply as the workflow needs it: small. The text and every tool call's arguments stay
 * in the transcript; the workflow names each call by id only.
 */
export interface ModelReply {
  toolCalls: Array<{ id: string; name: string }>;
  summary: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** One tool call of a model turn, read from the transcript and executed in the workspace under the stored spec. */
export const RunToolCallInput = z.object({
  ...TaskKey,
  conversationId: z.string(),
  turn: z.number().int().positive(),
  callId: z.string(),
  workspacePath: z.string(),
  /** The stored spec's reference; the whole spec only from runs whose conversation began before specs were stored. */
  spec: SpecOrRefSchema,
  agentClockStart: AgentClockStart,
});
/** Input of `runToolCall`. */
export type RunToolCallInput = z.input<typeof RunToolCallInput>;
/** A tool call's outcome as history holds it: a short summary and the digest of the full result (kept in the transcript). */
export interface ToolCallOutcome {
  ok: boolean;
  summary: string;
  digest: string;
  violation?: PolicyViolation;
}

/** The task whose own run `cancelOwnRun` cancels or `recordRunId` names (the run comes from the activity's context). */
export const OwnRunInput = z.object({ ...TaskKey });
/** Input of `cancelOwnRun` and `recordRunId`. */
export type OwnRunInput = z.input<typeof OwnRunInput>;

/** An approver's decision on a task's waiver, to authorise and record. */
export const AuthorizeWaiverDecisionInput = z.object({
  ...TaskKey,
  riskTier: z.number().int().min(1).max(3),
  signed: SignedDecisionSchema,
});
/** Input of `authorizeWaiverDecision`. */
export type AuthorizeWaiverDecisionInput = z.input<typeof AuthorizeWaiverDecisionInput>;

/** Whose keys may decide the tenant's waivers, read when a waiver opens and when approvers change. */
export const LoadApproverKeysInput = z.object({ ...TaskKey });
/** Input of `loadApproverKeys`. */
export type LoadApproverKeysInput = z.input<typeof LoadApproverKeysInput>;

/** An approved waiver to store (and apply to the budget gate's record), with the signed approvals that grant it. */
export const StoreWaiverInput = z.object({
  ...TaskKey,
  waiverId: z.string(),
  specId: z.string(),
  gates: z.array(z.string()),
  delta: z.object({ maxFiles: z.number().int().nonnegative(), maxLoc: z.number().int().nonnegative() }),
  reasonCode: z.string(),
  justification: z.string().optional(),
  approvals: z.array(SignedDecisionSchema).min(1),
  /** When each approval was counted (workflow time), for the CAWS `approvers` list. */
  approvers: z.array(z.object({ approver: z.string(), keyId: z.string(), at: z.string() })),
  expiresAt: z.string(),
  budgetDetail: z.string(),
  /** The tier the approvals were judged at; absent from requests scheduled before it travelled with them. */
  riskTier: z.number().int().optional(),
});
/** Input of `storeWaiver`. */
export type StoreWaiverInput = z.input<typeof StoreWaiverInput>;
