/**
 * Parameter and result shapes of every activity. One object parameter each, typed from a zod
 * schema, so adding a field later never breaks a history already recorded, and activities can
 * re-check their input at the boundary.
 */
import { z } from 'zod';
import { TASK_STATES } from './lifecycle';
import { GateCommandSchema, IdPartSchema } from './task';
import type { WorkingSpec } from './spec';
import type { GateResult, VerdictOutcome } from './task';

const TaskKey = { tenantId: IdPartSchema, taskId: IdPartSchema };
const SpecSchema = z.custom<WorkingSpec>((v) => typeof v === 'object' && v !== null, 'spec must be a normalised spec');

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
export type RecordTransitionInput = z.input<typeof RecordTransitionInput>;

export const ValidateSpecInput = z.object({
  ...TaskKey,
  specYaml: z.string(),
  specFormat: z.enum(['auto', 'current', 'legacy']).default('auto'),
});
export type ValidateSpecInput = z.input<typeof ValidateSpecInput>;
export interface ValidateSpecResult {
  spec: WorkingSpec;
  warnings: string[];
  specDigest: string;
}

export const RouteTaskInput = z.object({
  ...TaskKey,
  taskType: z.string(),
  agentHint: IdPartSchema.optional(),
});
export type RouteTaskInput = z.input<typeof RouteTaskInput>;
export interface RoutingDecision {
  agentId: string;
  agentKind: string;
  reason: string;
  candidates: Array<{ agentId: string; eligible: boolean; score: number; reason: string }>;
}

export const PrepareWorkspaceInput = z.object({ ...TaskKey, repoPath: z.string(), baseRef: z.string().optional() });
export type PrepareWorkspaceInput = z.input<typeof PrepareWorkspaceInput>;
export interface PreparedWorkspace {
  workspacePath: string;
  baseCommit: string;
}

export const ExecuteAgentInput = z.object({
  ...TaskKey,
  agentId: z.string(),
  workspacePath: z.string(),
  spec: SpecSchema,
});
export type ExecuteAgentInput = z.input<typeof ExecuteAgentInput>;
export interface AgentRunResult {
  agentId: string;
  stepsApplied: number;
  summary: string;
}

export const MeasureDiffInput = z.object({ ...TaskKey, workspacePath: z.string(), baseCommit: z.string() });
export type MeasureDiffInput = z.input<typeof MeasureDiffInput>;
export interface DiffSummary {
  filesChanged: number;
  linesAdded: number;
  linesDeleted: number;
  /** sha256 of the binary-safe patch; the patch itself is stored as an artifact. */
  digest: string;
  artifactId: string;
}

export const CheckBudgetAndScopeInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  baseCommit: z.string(),
  spec: SpecSchema,
});
export type CheckBudgetAndScopeInput = z.input<typeof CheckBudgetAndScopeInput>;

export const RunGateInput = z.object({ ...TaskKey, workspacePath: z.string(), gate: GateCommandSchema });
export type RunGateInput = z.input<typeof RunGateInput>;

export const IssueVerdictInput = z.object({
  ...TaskKey,
  specId: z.string(),
  specDigest: z.string(),
  agentId: z.string(),
  baseCommit: z.string(),
  diff: z.custom<DiffSummary>(),
  gates: z.array(z.custom<GateResult>()),
});
export type IssueVerdictInput = z.input<typeof IssueVerdictInput>;
export interface IssuedVerdict {
  verdictId: string;
  outcome: VerdictOutcome;
  digest: string;
}

export const DeliverChangeInput = z.object({
  ...TaskKey,
  workspacePath: z.string(),
  repoPath: z.string(),
  baseCommit: z.string(),
  specId: z.string(),
  verdictDigest: z.string(),
});
export type DeliverChangeInput = z.input<typeof DeliverChangeInput>;
export interface Delivery {
  branch: string;
  commit: string;
}
