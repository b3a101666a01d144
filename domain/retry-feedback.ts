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

/**
 * Whether the next attempt may start from the failed change. Not when its shape was refused (the
 * tree or protected-path gate): such a tree is never written to a workspace again.
 */
export function keepsChange(gates: readonly GateResult[]): boolean {
  return !gates.some((g) => g.status === 'fail' && (g.kind === 'tree' || g.kind === 'protected'));
}

function gateLines(gate: GateResult): string[] {
  const command = gate.argv ? ` (\`${clipText(gate.argv.join(' '), 300)}\`)` : '';
  const exit = gate.exitCode !== undefined && gate.exitCode !== null ? `, exit code ${gate.exitCode}` : '';
  const lines = [`- ${gate.name}${command}${exit}: ${clipText(gate.detail, 400)}`];
  const tail = gate.outputTail?.trimEnd();
  if (tail)
    lines.push(
      '  Output (end):',
      '  ```',
      ...tail
        .slice(-TAIL_CHARACTERS)
        .split('\n')
        .map((l) => `  ${l}`),
      '  ```',
    );
  return lines;
}

/** Failed gates another attempt could fix: every blocking failure but the spec's own (the agent cannot change the spec). */
export function fixableFailures(gates: readonly GateResult[]): GateResult[] {
  return gates.filter((g) => g.status === 'fail' && g.kind !== 'spec');
}

/** The feedback for the next attempt, or undefined when no failure is one the agent could fix. */
export function retryFeedback({ attempt, maxAttempts, gates, acceptance }: FeedbackInput): string | undefined {
  if (fixableFailures(gates).length === 0) return undefined;
  const failed = gates.filter((g) => g.status === 'fail');
  if (failed.length === 0) return undefined;
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
  return clipText(lines.join('\n'), MAX_FEEDBACK_CHARACTERS);
}
