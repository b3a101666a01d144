/**
 * How the CLI prints: the `status --json` contract from DESIGN.md, and the human lines for
 * watching a task move.
 */
import type { TaskSnapshot } from '../../domain/task';
import { printable } from '../../domain/printable';
import { summarizeTask } from '../../domain/task-summary';

/** Exit codes: 0 success, 1 the operation failed, 2 bad usage. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A usage problem (missing argument, malformed option); exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The `status --json` document: the contract fields first, then the whole snapshot. */
export function statusJson(s: TaskSnapshot): Record<string, unknown> {
  return {
    taskId: s.taskId,
    workflowId: s.workflowId,
    tenantId: s.tenantId,
    state: s.state,
    subState: s.subState,
    history: s.history,
    specId: s.spec?.id ?? null,
    riskTier: s.spec?.riskTier ?? null,
    agentId: s.routing?.agentId ?? null,
    gates: s.gates,
    attempts: s.attempts ?? [],
    candidates: s.candidates ?? [],
    candidateChoice: s.candidateChoice ?? null,
    violations: s.violations ?? [],
    pendingWaiver: s.pendingWaiver,
    verdict: s.verdict,
    delivery: s.delivery,
    diff: s.diff,
    spec: s.spec,
    error: s.error,
  };
}

/** A readable multi-line status: the task summary's lines under a `tenant/task  STATE` headline, labels in a column. */
export function statusText(s: TaskSnapshot): string {
  const { ref, state, lines } = summarizeTask(s);
  return [`${ref}  ${state}`, ...lines.map((l) => `  ${l.label.padEnd(8)} ${l.text}`)].join('\n');
}

/** Prints history entries not printed yet; returns how many have been printed in total. */
export function printNewTransitions(s: TaskSnapshot, alreadyPrinted: number, write: (line: string) => void): number {
  for (const h of s.history.slice(alreadyPrinted))
    write(`${h.at}  ${h.state}${h.note ? `  — ${printable(h.note)}` : ''}`);
  return s.history.length;
}

/** Writes `value` as the indented JSON every `--json` flag prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Writes one line built from a record: whatever its values hold, it stays one line. */
export function printLine(text: string): void {
  process.stdout.write(`${printable(text)}\n`);
}

/** A list command's output: the rows as JSON with `--json`, else one line each. */
export function printRows<T>(rows: readonly T[], json: boolean | undefined, line: (row: T) => string): void {
  if (json) printJson(rows);
  else for (const row of rows) printLine(line(row));
}

/** Commander's accumulator for a repeatable option (`--key A --key B`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
