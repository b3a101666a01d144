/**
 * The task prompt an agent receives, built from the normalised spec: what to change, where it
 * may change, what must stay true, and how success is judged. Pure, so it is the same wherever
 * it is built.
 */
import type { WorkingSpec } from './spec';

/** The prompt text for `spec`. */
export function buildTaskPrompt(spec: WorkingSpec): string {
  const lines = [
    `# Task ${spec.id}: ${spec.title}`,
    '',
    `Kind of change: ${spec.mode}. Risk tier: ${spec.riskTier}.`,
    '',
  ];
  lines.push('## Where you may change files');
  lines.push(
    ...(spec.scope.in.length ? spec.scope.in.map((g) => `- ${g}`) : ['- (nothing is writable: scope.in has no paths)']),
  );
  if (spec.scope.out.length) lines.push('', 'Never change:', ...spec.scope.out.map((g) => `- ${g}`));
  if (spec.changeBudget)
    lines.push(
      '',
      `Budget: at most ${spec.changeBudget.maxFiles} files and ${spec.changeBudget.maxLoc} changed lines.`,
    );
  if (spec.invariants.length) lines.push('', '## What must stay true', ...spec.invariants.map((i) => `- ${i}`));
  if (spec.acceptance.length) {
    lines.push('', '## Acceptance criteria');
    for (const a of spec.acceptance)
      lines.push(
        `- ${a.id}: given ${a.given}, when ${a.when}, then ${a.then}${a.testCommand ? ` (checked by: ${a.testCommand})` : ''}`,
      );
  }
  lines.push(
    '',
    'Work only through the tools you are given. When the change is complete, reply with a short summary and no tool calls.',
  );
  return lines.join('\n');
}

/** The prompt of a retry: the task as before, then why the last attempt's change failed. */
export function buildRetryPrompt(spec: WorkingSpec, feedback: string): string {
  return `${buildTaskPrompt(spec)}\n\n${feedback}`;
}
