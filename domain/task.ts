/**
 * The task as callers submit it and as the `getState` query reports it. The zod schema is the
 * single source for both the TypeScript type and the client-side validation that runs before
 * anything reaches Temporal, so bad input fails fast with the field named.
 */
import { z } from 'zod';
import { NO_NUL, nulFree } from './argv-word';
import { idPartProblem } from '../temporal-config';
import { TaskLanguageSchema } from './task-language';
import {
  CANDIDATE_MODES,
  CandidateOfSchema,
  candidateInputProblem,
  MAX_CANDIDATES,
  type CandidateView,
} from './candidates';
import { GATE_NAME_PATTERN, reservedGateNameProblem } from './gate-names';
import type { DiffSummary } from './diff';
import type { TaskState } from './lifecycle';
import type { PolicyViolation } from './sandbox';
import type { WaiverRequest } from './waiver';

/** Tenant and task ids become workflow ids and git branch names, so they are kept plain. */
export const IdPartSchema = z.string().superRefine((value, ctx) => {
  const problem = idPartProblem(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
});

/** A named command run as a verification gate on a fresh checkout of the change (argv, never a shell string). */
export const GateCommandSchema = z.object({
  name: z.string().regex(GATE_NAME_PATTERN, 'gate name must be a short identifier'),
  argv: z.array(z.string().min(1)).min(1, 'gate argv must name a program'),
  timeoutSeconds: z.number().int().positive().max(3600).default(600),
});
/** A gate command after defaults are applied. */
export type GateCommand = z.output<typeof GateCommandSchema>;

/**
 * A repository's registered name (`arbiter repos add --tenant T NAME PATH`). Tasks name a
 * repository this way, never by path: which directory on the worker a name stands for is the
 * tenant's registration, looked up by the worker, so a submitter cannot point a task anywhere else.
 */
export const RepoNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'repo must be a registered repository name: 1-63 of a-z 0-9 _ -');

/**
 * Task input as runs started before its size limits checked it. They replay with this schema:
 * a check that refused their recorded input would fail every workflow task of theirs.
 */
export const TaskInputSchemaBeforeLimits = z
  .object({
    tenantId: IdPartSchema,
    taskId: IdPartSchema,
    /** The CAWS working spec, verbatim; validated by the `validateSpec` activity. */
    specYaml: z
      .string()
      .min(1, 'spec is empty')
      .max(256 * 1024, 'spec is larger than 256 KiB'),
    /** The target repository: a name registered for this tenant (resolved to its path by the worker). */
    repo: RepoNameSchema,
    /** Commit-ish the workspace starts from; the target's HEAD when absent. */
    baseRef: z.string().min(1).optional(),
    /** Agent the submitter asks for; honoured only when that agent is capable. */
    agentHint: IdPartSchema.optional(),
    gates: z
      .array(GateCommandSchema)
      .max(20)
      .default([])
      .refine((gates) => new Set(gates.map((g) => g.name)).size === gates.length, 'gate names must be unique')
      .superRefine((gates, ctx) => {
        gates.forEach((g, i) => {
          const problem = reservedGateNameProblem(g.name);
          if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem, path: [i, 'name'] });
        });
      }),
    /**
     * Which CAWS format the spec must be in; `auto` detects it. `current` rejects legacy fields,
     * as the CAWS project itself does for specs it expects in the new format.
     */
    specFormat: z.enum(['auto', 'current', 'legacy']).default('auto'),
    /**
     * How long a workspace step may wait for the worker holding the workspace before the task
     * treats that host as gone and rebuilds the workspace on another worker.
     */
    hostLossTimeoutSeconds: z.number().int().min(1).max(86_400).default(120),
    /** The task's language, when the submitter names it: routing learns per language too. */
    language: TaskLanguageSchema.optional(),
    /** Best of N: this many candidates, each its own agent run and verdict; the best is delivered. */
    candidates: z.number().int().min(1).max(MAX_CANDIDATES).optional(),
    /** `first-pass`: stop the other candidates as soon as one passes. */
    candidateMode: z.enum(CANDIDATE_MODES).optional(),
    /** Set by a task on the candidates it starts (their run checks it); refused from anyone else. */
    candidateOf: CandidateOfSchema.optional(),
  })
  .strict();

/**
 * What an application submits. Strict: an unknown field (a `repoPath` from an older client, or
 * anything a hostile submitter adds) is refused, never silently dropped. Sized
 * ({@link taskInputSizeProblems}): the input stays in workflow memory while the run is open.
 */
export const TaskInputSchema = inputSchema(false);

/** Task input as a run checks it: also a candidate's, which its task started (the run checks its parent). */
export const TaskRunInputSchema = inputSchema(true);

function inputSchema(fromTask: boolean) {
  return TaskInputSchemaBeforeLimits.superRefine((input, ctx) => {
    for (const { message, path } of taskInputSizeProblems(input))
      ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
    // A run checks this itself, under a patch: runs recorded before replay with their input as it was.
    if (!fromTask)
      for (const { message, path } of gateArgvProblems(input.gates))
        ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
    const candidates = candidateInputProblem(input, fromTask);
    if (candidates) ctx.addIssue({ code: z.ZodIssueCode.custom, message: candidates.message, path: [candidates.path] });
  });
}

/**
 * Each argv word of a submitter's gate that holds a NUL, which no program can be handed: accepted,
 * it reached the sandbox, and the task failed blaming the worker's sandbox for it.
 */
export function gateArgvProblems(
  gates: ReadonlyArray<{ argv: readonly string[] }>,
): Array<{ message: string; path: (string | number)[] }> {
  return gates.flatMap((g, i) =>
    g.argv.flatMap((word, j) => (nulFree(word) ? [] : [{ message: NO_NUL, path: ['gates', i, 'argv', j] }])),
  );
}

/** Task input as runs started under the size limits but before candidates checked it; they replay with this. */
export const TaskInputSchemaBeforeCandidates = TaskInputSchemaBeforeLimits.superRefine((input, ctx) => {
  for (const { message, path } of taskInputSizeProblems(input))
    ctx.addIssue({ code: z.ZodIssueCode.custom, message, path });
});

/**
 * Bounds on what a submitter sends. The task input is held in workflow memory for the whole run
 * (a waiver may keep it there for days), in every cached run, so each field has a size a real
 * task stays far below: the largest spec in the CAWS corpus is 21 KiB. A repository's policy
 * gates are the repository owner's and are not held to these.
 */
const TASK_INPUT_LIMITS = {
  specCharacters: 64 * 1024,
  baseRef: 255,
  argument: 4096,
  arguments: 64,
  allArguments: 16 * 1024,
};

function taskInputSizeProblems(
  input: z.output<typeof TaskInputSchemaBeforeLimits>,
): Array<{ message: string; path: (string | number)[] }> {
  const limits = TASK_INPUT_LIMITS;
  const found: Array<{ message: string; path: (string | number)[] }> = [];
  if (input.specYaml.length > limits.specCharacters)
    found.push({ message: `spec is longer than ${limits.specCharacters} characters`, path: ['specYaml'] });
  if ((input.baseRef?.length ?? 0) > limits.baseRef)
    found.push({ message: `baseRef is longer than ${limits.baseRef} characters`, path: ['baseRef'] });
  input.gates.forEach((g, i) => {
    if (g.argv.length > limits.arguments)
      found.push({ message: `a gate has more than ${limits.arguments} arguments`, path: ['gates', i, 'argv'] });
    g.argv.forEach((arg, j) => {
      if (arg.length > limits.argument)
        found.push({
          message: `a gate argument is longer than ${limits.argument} characters`,
          path: ['gates', i, 'argv', j],
        });
    });
  });
  if (input.gates.flatMap((g) => g.argv).join('').length > limits.allArguments)
    found.push({ message: `gate arguments total more than ${limits.allArguments} characters`, path: ['gates'] });
  return found;
}

/** Task input as written by callers (defaults optional). */
export type TaskInput = z.input<typeof TaskInputSchema>;
/** Task input as the workflow sees it (defaults applied). */
export type ParsedTaskInput = z.output<typeof TaskInputSchema>;

/**
 * Who asked for a gate. The verdict names it so a reader can tell the repository's own gates
 * (which always run) from the ones a submitter or a spec added.
 */
export type GateSource = 'arbiter' | 'policy' | 'acceptance' | 'submitter';

/** Outcome of one verification gate, with enough evidence to audit it later. */
export interface GateResult {
  name: string;
  kind: 'budget' | 'scope' | 'spec' | 'protected' | 'tree' | 'command';
  source: GateSource;
  /** The exact command a command gate ran. */
  argv?: string[];
  /** `warn`: failed, but the policy's mode for this gate is warn; `skipped`: the policy turns it off. */
  status: 'pass' | 'fail' | 'warn' | 'skipped';
  detail: string;
  exitCode?: number | null;
  durationMs?: number;
  outputDigest?: string;
  outputTail?: string;
}

/** The verdicts there are: PASS, FAIL, or WAIVED when approved waivers covered the only failing gates. */
export const VERDICT_OUTCOMES = ['PASS', 'FAIL', 'WAIVED'] as const;
/** One verdict. */
export type VerdictOutcome = (typeof VERDICT_OUTCOMES)[number];

/**
 * An attempt whose blocking gates failed, after which the agent was asked again with their
 * evidence. The attempt in progress (or the last) is the snapshot's own `diff` and `gates`.
 */
export interface AttemptRecord {
  attempt: number;
  /** The agent run's one-line account of itself. */
  summary: string;
  diff: Pick<DiffSummary, 'digest' | 'treeId' | 'artifactId' | 'filesChanged' | 'linesAdded' | 'linesDeleted'>;
  gates: GateResult[];
  endedAt: string;
}

/** One entry of the task's own history. */
export interface HistoryEntry {
  state: TaskState;
  at: string;
  note?: string;
}

/** Why a task ended badly, in a shape a person and a program can both read. */
export interface TaskError {
  type: string;
  message: string;
  problems?: string[];
  /** For PolicyViolationError: what was refused and why. */
  violation?: PolicyViolation;
}

/** The whole picture `getState` returns; `status --json` is built from it. */
export interface TaskSnapshot {
  taskId: string;
  tenantId: string;
  workflowId: string;
  state: TaskState;
  subState: string | null;
  history: HistoryEntry[];
  spec: { id: string; title: string; riskTier: number; mode: string; format: string; warnings: string[] } | null;
  routing: { agentId: string; reason: string; candidates: number } | null;
  workspace: { baseCommit: string; hostQueue: string } | null;
  diff: DiffSummary | null;
  gates: GateResult[];
  /** Earlier attempts, oldest first; empty while the first attempt is the only one. */
  attempts: AttemptRecord[];
  /** A best-of-N task's candidates, side by side; empty for a task of one. */
  candidates: CandidateView[];
  /** Why the judged candidate was chosen, once the candidates were assessed. */
  candidateChoice: string | null;
  /** Operations the sandbox refused (writes out of scope, protected paths, escapes). */
  violations: PolicyViolation[];
  /** What the task is waiting for people to approve, while `subState` is `awaiting_waiver`. */
  pendingWaiver: WaiverRequest | null;
  verdict: { outcome: VerdictOutcome; digest: string } | null;
  delivery: { branch: string; commit: string } | null;
  error: TaskError | null;
}

/** A just-received task's snapshot: nothing known yet but its key and workflow id. */
export function receivedSnapshot(ref: { tenantId: string; taskId: string }, workflowId: string): TaskSnapshot {
  const { tenantId, taskId } = ref;
  return {
    taskId,
    tenantId,
    workflowId,
    state: 'RECEIVED',
    subState: null,
    history: [],
    spec: null,
    routing: null,
    workspace: null,
    diff: null,
    gates: [],
    attempts: [],
    candidates: [],
    candidateChoice: null,
    violations: [],
    pendingWaiver: null,
    verdict: null,
    delivery: null,
    error: null,
  };
}
