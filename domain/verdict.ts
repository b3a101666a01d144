/**
 * Verdict payloads are pure data computed from gate evidence, so the same evidence always
 * yields the same bytes and therefore the same digest, which is what the verdict's signature covers.
 */
import type { GatewaySummary } from './model-usage';
import type { DiffSummary, PolicyProvenance } from './activity-io';
import type { SignedDecision } from './approval';
import type { GateMode } from './repo-policy';
import type { CandidateEvidence } from './candidates';
import type { AttemptRecord, GateResult, VerdictOutcome } from './task';

/**
 * A failing (blocking) gate fails the task; nothing turns a failure into a pass except a
 * waiver. Warnings and skipped gates never block, and never make a failure pass.
 */
export function decideOutcome(gates: readonly GateResult[]): VerdictOutcome {
  return gates.length > 0 && gates.every((g) => g.status !== 'fail') ? 'PASS' : 'FAIL';
}

/** The status a gate gets under the policy's mode for it: a failure in warn mode only warns. */
export function applyGateMode(passed: boolean, mode: GateMode | undefined): GateResult['status'] {
  if (mode === 'skip') return 'skipped';
  if (passed) return 'pass';
  return mode === 'warn' ? 'warn' : 'fail';
}

/** The Temporal run that produced a verdict: a verdict is about this run only. */
export interface RunIdentity {
  workflowId: string;
  runId: string;
}

/** What a verdict states; stored verbatim and digested over its canonical JSON. */
export interface VerdictPayload {
  schema: 'arbiter.verdict/v2';
  tenantId: string;
  taskId: string;
  run: RunIdentity;
  policy: PolicyProvenance;
  outcome: VerdictOutcome;
  specId: string;
  specDigest: string;
  agentId: string;
  baseCommit: string;
  diff: {
    digest: string;
    treeId: string;
    filesChanged: number;
    linesAdded: number;
    linesDeleted: number;
    bytesAdded: number;
    binaryFiles: number;
  };
  gates: Array<Omit<GateResult, 'outputTail'>>;
  waivers: string[];
  /** The signed decisions that granted the waivers: who approved, provably. */
  approvals: SignedDecision[];
  /** The agent's model traffic and what the gateway refused; absent when the run made no call and met no refusal. */
  gateway?: GatewaySummary;
  /** The attempts before the one judged here, each with its change and gates; absent when there was one attempt. */
  attempts?: VerdictAttempt[];
  /** A best-of-N task's candidates, each with how it ended and its own verdict, and why this one was judged. */
  candidates?: { reason: string; all: VerdictCandidate[] };
}

/** A candidate as the task's verdict names it. */
export interface VerdictCandidate {
  index: number;
  taskId: string;
  runId: string;
  agentId: string;
  state: string;
  outcome?: string;
  verdictDigest?: string;
  diffDigest?: string;
}

function verdictCandidate(c: CandidateEvidence): VerdictCandidate {
  return {
    index: c.index,
    taskId: c.taskId,
    runId: c.runId,
    agentId: c.agentId,
    state: c.state,
    ...(c.verdict
      ? { outcome: c.verdict.outcome, verdictDigest: c.verdict.digest, diffDigest: c.verdict.diffDigest }
      : {}),
  };
}

/** An earlier attempt as the verdict states it: its change by digest and its gates' evidence. */
export interface VerdictAttempt {
  attempt: number;
  outcome: 'FAIL';
  diff: AttemptRecord['diff'];
  gates: Array<Omit<GateResult, 'outputTail'>>;
}

function withoutTails(gates: readonly GateResult[]): Array<Omit<GateResult, 'outputTail'>> {
  return gates.map(({ outputTail: _tail, ...evidence }) => evidence);
}

function verdictAttempt(a: AttemptRecord): VerdictAttempt {
  const { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted } = a.diff;
  return {
    attempt: a.attempt,
    outcome: 'FAIL',
    diff: { digest, treeId, artifactId, filesChanged, linesAdded, linesDeleted },
    gates: withoutTails(a.gates),
  };
}

/** Builds the payload with gate tails left out: evidence is referenced by digest, not copied. */
export function buildVerdictPayload(input: {
  tenantId: string;
  taskId: string;
  run: RunIdentity;
  policy: PolicyProvenance;
  specId: string;
  specDigest: string;
  agentId: string;
  baseCommit: string;
  diff: DiffSummary;
  gates: readonly GateResult[];
  waivers?: readonly string[];
  approvals?: readonly SignedDecision[];
  gateway?: GatewaySummary;
  attempts?: readonly AttemptRecord[];
  candidates?: { assessed: readonly CandidateEvidence[]; reason: string };
}): VerdictPayload {
  const waivers = [...(input.waivers ?? [])];
  const outcome = decideOutcome(input.gates);
  return {
    schema: 'arbiter.verdict/v2',
    tenantId: input.tenantId,
    taskId: input.taskId,
    run: { workflowId: input.run.workflowId, runId: input.run.runId },
    policy: { ...input.policy },
    outcome: outcome === 'PASS' && waivers.length > 0 ? 'WAIVED' : outcome,
    specId: input.specId,
    specDigest: input.specDigest,
    agentId: input.agentId,
    baseCommit: input.baseCommit,
    diff: {
      digest: input.diff.digest,
      treeId: input.diff.treeId,
      filesChanged: input.diff.filesChanged,
      linesAdded: input.diff.linesAdded,
      linesDeleted: input.diff.linesDeleted,
      bytesAdded: input.diff.bytesAdded,
      binaryFiles: input.diff.binaryFiles,
    },
    gates: withoutTails(input.gates),
    waivers,
    approvals: [...(input.approvals ?? [])],
    ...(input.gateway && (input.gateway.calls || input.gateway.refusals) ? { gateway: input.gateway } : {}),
    ...(input.attempts?.length ? { attempts: input.attempts.map(verdictAttempt) } : {}),
    ...(input.candidates
      ? { candidates: { reason: input.candidates.reason, all: input.candidates.assessed.map(verdictCandidate) } }
      : {}),
  };
}
