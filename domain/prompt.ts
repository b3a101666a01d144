/**
 * The task prompt an agent receives, built from the normalised spec: what to change, where it
 * may change, what must stay true, and how success is judged. Pure, so it is the same wherever
 * it is built.
 */
import { wellFormed } from './bounds';
import type { WorkingSpec } from './spec';

/**
 * Longest task prompt, in bytes as a command agent's launch carries it: JSON-escaped in the relay's
 * `ARBITER_LAUNCH`, itself one argument of bwrap's. Linux refuses to start a program with an
 * argument over 128 KiB: a spec whose YAML aliases repeat one long text, or one long text of
 * quotes (two bytes each once escaped), made launches fail, which counted against the agent's
 * health, that all tenants share. A retry's feedback (at most 8,100 characters, three bytes each
 * at most once printable) and the launch's other fields still fit beside this.
 */
export const MAX_PROMPT_BYTES = 80 * 1024;

/**
 * C0 controls but tab, line feed and carriage return, and DEL. No program's argument or
 * environment can hold a NUL (a spec's title with one made the launch fail), and JSON writes each
 * of the others in six bytes.
 */
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** `text` as an agent is handed it: control characters and lone surrogates U+FFFD. */
function launchable(text: string): string {
  return wellFormed(text).replace(CONTROL_CHARACTERS, '\ufffd');
}

/** Bytes of `prompt` inside a JSON string: what it takes of a command agent's launch. */
export function promptLaunchBytes(prompt: string): number {
  return new TextEncoder().encode(JSON.stringify(prompt)).length - 2;
}

/**
 * Why `spec` makes too long a prompt, or undefined. Its texts are summed first, so an alias bomb
 * is refused before a prompt of hundreds of megabytes is built to be measured.
 */
export function promptTooLong(spec: WorkingSpec): string | undefined {
  const texts = [
    spec.id,
    spec.title,
    spec.mode,
    ...spec.scope.in,
    ...spec.scope.out,
    ...spec.invariants,
    ...spec.acceptance.flatMap((a) => [a.id, a.given, a.when, a.then, a.testCommand ?? '']),
  ];
  const characters = texts.reduce((n, t) => n + t.length, 0);
  const what = "the agent's prompt from this spec's texts (YAML aliases expanded), as its launch carries it,";
  if (characters > MAX_PROMPT_BYTES)
    return `${what} would be at least ${characters} bytes; at most ${MAX_PROMPT_BYTES}`;
  const bytes = promptLaunchBytes(buildTaskPrompt(spec));
  return bytes > MAX_PROMPT_BYTES ? `${what} would be ${bytes} bytes; at most ${MAX_PROMPT_BYTES}` : undefined;
}

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
  return launchable(lines.join('\n'));
}

/** The prompt of a retry: the task as before, then why the last attempt's change failed. */
export function buildRetryPrompt(spec: WorkingSpec, feedback: string): string {
  return `${buildTaskPrompt(spec)}\n\n${launchable(feedback)}`;
}
