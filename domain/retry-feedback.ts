/**
 * What an agent is told when its change failed verification and it may try again: the gates
 * that failed, with their commands, exit codes and the tail of their output, and the acceptance
 * criteria not met. Pure, so every replay of the workflow hands the agent the same words.
 */
import { clipText } from './bounds';
import { acceptanceGateName } from './gate-names';
import type { GateResult } from './task';

/** Longest feedback an agent gets: it travels through history and into a prompt. */
export const MAX_FEEDBACK_CHARACTERS = 8_000;
/** Output kept of each failed gate: the end, where test runners print their summaries. */
const TAIL_CHARACTERS = 1_200;

/** What the feedback is built from. */
export interface FeedbackInput {
  /** The attempt about to start (2 for the first retry). */
  attempt: number;
  maxAttempts: number;
  gates: readonly GateResult[];
  acceptance: ReadonlyArray<{ id: string; testCommand?: string }>;
}

/** How the protected gate names what the base itself brings: no change of the agent's can fix it. */
export const BASE_PROTECTED_CHANGES = 'the base changes protected path(s) that are not on the trusted ref';
/** How the scope gate names what the base itself brings out of scope: no change of the agent's can fix it either. */
export const BASE_OUT_OF_SCOPE = 'the base changes path(s) out of scope that are not on the trusted ref';

/**
 * True when `gate` failed for what its base holds (protected or out-of-scope paths it changed, or
 * a base that cannot be compared with the trusted ref), which another attempt from the same base
 * meets again.
 */
function failedForTheBase(gate: GateResult): boolean {
  return (gate.kind === 'protected' || gate.kind === 'scope') && /(^|; )the base /.test(gate.detail);
}

/**
 * True when another attempt could pass: some blocking gate failed, and none failed for what the
 * agent cannot change (the spec's own gate, or protected paths its base brings along).
 */
export function worthRetrying(gates: readonly GateResult[]): boolean {
  const failed = gates.filter((g) => g.status === 'fail');
  return failed.length > 0 && !failed.some((g) => g.kind === 'spec' || failedForTheBase(g));
}

/**
 * Whether the next attempt may start from the failed change. Not when its shape was refused (the
 * tree or protected-path gate): such a tree is never written to a workspace again.
 */
export function keepsChange(gates: readonly GateResult[]): boolean {
  return !gates.some((g) => g.status === 'fail' && (g.kind === 'tree' || g.kind === 'protected'));
}

/** Replaces halves of surrogate pairs that clipping left alone, so the text stored is the text compared. */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** A fence longer than any run of backticks in `text`, so output cannot close it and pose as feedback. */
function fenceFor(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

function gateLines(gate: GateResult): string[] {
  const command = gate.argv ? ` (\`${clipText(gate.argv.join(' '), 300)}\`)` : '';
  const exit = gate.exitCode !== undefined && gate.exitCode !== null ? `, exit code ${gate.exitCode}` : '';
  const lines = [`- ${gate.name}${command}${exit}: ${clipText(gate.detail, 400)}`];
  const tail = gate.outputTail?.trimEnd().slice(-TAIL_CHARACTERS);
  if (tail) {
    const fence = fenceFor(tail);
    lines.push('  Output (end):', `  ${fence}`, ...tail.split('\n').map((l) => `  ${l}`), `  ${fence}`);
  }
  return lines;
}

/** The feedback for the next attempt, once {@link worthRetrying} says there is one. */
export function retryFeedback({ attempt, maxAttempts, gates, acceptance }: FeedbackInput): string {
  const failed = gates.filter((g) => g.status === 'fail');
  const failedNames = new Set(failed.map((g) => g.name));
  const unmet = acceptance.filter((a) => failedNames.has(acceptanceGateName(a.id)));
  const lines = [
    `## Attempt ${attempt} of ${maxAttempts}: your previous change failed verification`,
    '',
    keepsChange(gates)
      ? 'Your previous change is still in the workspace (unless its host was lost: then you start again from the base). Fix it so that every gate below passes.'
      : 'Your previous change was refused outright, so you start again from the base. Make the change so that every gate below passes.',
    '',
    'Failed gates:',
    ...failed.flatMap(gateLines),
  ];
  if (unmet.length)
    lines.push(
      '',
      'Acceptance criteria not met:',
      ...unmet.map((a) => `- ${a.id}${a.testCommand ? ` (checked by: ${clipText(a.testCommand, 300)})` : ''}`),
    );
  return wellFormed(clipText(lines.join('\n'), MAX_FEEDBACK_CHARACTERS));
}
