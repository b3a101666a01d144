/**
 * Best of N: a task may run N candidates, each a task of its own (`<taskId>.candidate-<k>`, a
 * child run of the task's) with its own agent, workspace, verification and verdict. The task
 * keeps one by evidence: PASS, then WAIVED, before FAIL, then fewer warnings, a smaller change, a lower cost, a
 * shorter time, then the lower index. Pure: the workflow ranks what an activity read and verified.
 */
import { z } from 'zod';
import { idPartProblem } from '../temporal-config';

/** The most candidates a task may ask for: each is a whole agent run and verification. */
export const MAX_CANDIDATES = 5;

/** How the candidates run: all to their end, or until the first passes (the others are cancelled). */
export const CANDIDATE_MODES = ['all', 'first-pass'] as const;

/** Set by the task on each candidate it starts; never by a submitter. */
export const CandidateOfSchema = z
  .object({
    taskId: z.string().refine((id) => !idPartProblem(id), 'must be a task id'),
    index: z.number().int().min(1).max(MAX_CANDIDATES),
  })
  .strict();
/** A candidate's task and place. */
export type CandidateOf = z.infer<typeof CandidateOfSchema>;

const CANDIDATE_SUFFIX = /\.candidate-\d+$/;

/** Whether `taskId` is a candidate's (`<taskId>.candidate-<k>`): its task, not it, delivers. */
export function isCandidateTaskId(taskId: string): boolean {
  return CANDIDATE_SUFFIX.test(taskId);
}

/** The task id of candidate `index` of task `taskId`. */
export function candidateTaskId(taskId: string, index: number): string {
  return `${taskId}.candidate-${index}`;
}

/** Longest task id that can still take the `.candidate-<n>` suffix of its candidates. */
export const MAX_ID_WITH_CANDIDATES = 128 - '.candidate-5'.length;

/**
 * Why a task input's candidate fields do not fit together, or undefined. A candidate's id is
 * reserved, and `candidateOf` is set only by a task starting its candidates (`fromTask`): no
 * submitter can take a candidate's place, nor use a candidate's id up before its task does.
 */
export function candidateInputProblem(
  input: { taskId: string; candidates?: number; candidateMode?: string; candidateOf?: CandidateOf },
  fromTask: boolean,
): { message: string; path: string } | undefined {
  const { candidateOf } = input;
  if (!candidateOf) {
    if (CANDIDATE_SUFFIX.test(input.taskId))
      return { message: 'task ids ending in .candidate-<n> are reserved for the candidates of a task', path: 'taskId' };
    if ((input.candidates ?? 1) > 1 && input.taskId.length > MAX_ID_WITH_CANDIDATES)
      return {
        message: `a task with candidates has an id of at most ${MAX_ID_WITH_CANDIDATES} characters`,
        path: 'taskId',
      };
    return undefined;
  }
  if (!fromTask)
    return { message: 'candidateOf is set only by a task on the candidates it starts', path: 'candidateOf' };
  if (input.taskId !== candidateTaskId(candidateOf.taskId, candidateOf.index))
    return { message: `a candidate's id is ${candidateTaskId(candidateOf.taskId, candidateOf.index)}`, path: 'taskId' };
  if (input.candidates !== undefined || input.candidateMode !== undefined)
    return { message: 'a candidate runs no candidates of its own', path: 'candidates' };
  return undefined;
}

/** A candidate as the task's snapshot shows it: started, running, ended, then with its evidence. */
export interface CandidateView {
  index: number;
  taskId: string;
  agentId: string;
  state: string;
  runId?: string;
  outcome?: string;
  verdictDigest?: string;
  filesChanged?: number;
  linesChanged?: number;
  warnings?: number;
  tokens?: number;
  costUsd?: number;
  seconds?: number;
  /** The one the task judged (and, on PASS, delivered). */
  chosen?: boolean;
}

/** What the task knows of one candidate once it ended: read from its stored, signed verdict and records. */
export interface CandidateEvidence {
  index: number;
  taskId: string;
  runId: string;
  agentId: string;
  /** The candidate's end state (COMPLETED, FAILED, CANCELLED, …). */
  state: string;
  /** Absent when the candidate ended before a verdict. */
  verdict?: {
    outcome: 'PASS' | 'FAIL' | 'WAIVED';
    digest: string;
    diffDigest: string;
    filesChanged: number;
    linesChanged: number;
    warnings: number;
  };
  tokens: number;
  costUsd: number;
  seconds: number;
}

/** PASS first, then a pass by waiver, then FAIL (and last, no verdict at all). */
const OUTCOME_RANK: Record<'PASS' | 'WAIVED' | 'FAIL', number> = { PASS: 0, WAIVED: 1, FAIL: 2 };

/** Orders two candidates: negative when `a` is the better. */
function compare(a: CandidateEvidence, b: CandidateEvidence): number {
  const passed = (c: CandidateEvidence) => (c.verdict ? OUTCOME_RANK[c.verdict.outcome] : 3);
  return (
    passed(a) - passed(b) ||
    (a.verdict?.warnings ?? 0) - (b.verdict?.warnings ?? 0) ||
    (a.verdict?.linesChanged ?? 0) - (b.verdict?.linesChanged ?? 0) ||
    (a.verdict?.filesChanged ?? 0) - (b.verdict?.filesChanged ?? 0) ||
    a.costUsd - b.costUsd ||
    a.tokens - b.tokens ||
    a.seconds - b.seconds ||
    a.index - b.index
  );
}

/** Why `winner` ranks before `other`, in words. */
function beats(winner: CandidateEvidence, other: CandidateEvidence): string {
  const w = winner.verdict;
  const o = other.verdict;
  const name = `candidate ${other.index}`;
  if (!o) return `${name} ended ${other.state} without a verdict`;
  if (w?.outcome !== o.outcome)
    return o.outcome === 'FAIL' ? `${name} did not pass` : `${name} passed only by a waiver`;
  if ((w?.warnings ?? 0) !== o.warnings) return `${name} had more warnings (${o.warnings})`;
  if ((w?.linesChanged ?? 0) !== o.linesChanged) return `${name} changed more lines (${o.linesChanged})`;
  if ((w?.filesChanged ?? 0) !== o.filesChanged) return `${name} changed more files (${o.filesChanged})`;
  if (winner.costUsd !== other.costUsd) return `${name} cost more ($${other.costUsd.toFixed(4)})`;
  if (winner.tokens !== other.tokens) return `${name} used more tokens (${other.tokens})`;
  if (winner.seconds !== other.seconds) return `${name} took longer (${other.seconds.toFixed(0)} s)`;
  return `${name} ties and comes later`;
}

/**
 * The candidates best first, and why the first ranks before each other one. The first is the
 * winner only when it has a verdict; a task whose first did not pass fails with that verdict.
 */
export function rankCandidates(all: readonly CandidateEvidence[]): { ranked: CandidateEvidence[]; reason: string } {
  const ranked = [...all].sort(compare);
  const [first, ...rest] = ranked;
  const reason = first
    ? `candidate ${first.index} (${first.agentId}): ${first.verdict?.outcome ?? first.state}${rest.length ? `; ${rest.map((o) => beats(first, o)).join('; ')}` : ''}`
    : 'no candidates';
  return { ranked, reason };
}

/** Warnings among a verdict's gates, for ranking. */
export function warningsOf(gates: ReadonlyArray<{ status: string }>): number {
  return gates.filter((g) => g.status === 'warn').length;
}

/** `view` with what the evidence says of it. */
export function withEvidence(view: CandidateView, e: CandidateEvidence, chosen: boolean): CandidateView {
  const v = e.verdict;
  return {
    ...view,
    agentId: e.agentId || view.agentId,
    state: e.state,
    runId: e.runId,
    ...(v
      ? {
          outcome: v.outcome,
          verdictDigest: v.digest,
          filesChanged: v.filesChanged,
          linesChanged: v.linesChanged,
          warnings: v.warnings,
        }
      : {}),
    tokens: e.tokens,
    costUsd: e.costUsd,
    seconds: e.seconds,
    ...(chosen ? { chosen } : {}),
  };
}
