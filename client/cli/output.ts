/**
 * How the CLI prints: the `status --json` contract from DESIGN.md, and the human lines for
 * watching a task move.
 */
import type { TaskSnapshot } from '../../domain/task';

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
    violations: s.violations ?? [],
    pendingWaiver: s.pendingWaiver,
    verdict: s.verdict,
    delivery: s.delivery,
    diff: s.diff,
    spec: s.spec,
    error: s.error,
  };
}

/** A readable multi-line status. */
export function statusText(s: TaskSnapshot): string {
  const lines = [`${s.tenantId}/${s.taskId}  ${s.state}${s.subState ? ` (${s.subState})` : ''}`];
  if (s.spec) lines.push(`  spec     ${s.spec.id} — ${s.spec.title} (tier ${s.spec.riskTier}, ${s.spec.mode})`);
  if (s.routing) lines.push(`  agent    ${s.routing.agentId} (${s.routing.reason})`);
  if (s.diff) lines.push(`  diff     ${s.diff.filesChanged} file(s) +${s.diff.linesAdded}/-${s.diff.linesDeleted}`);
  for (const g of s.gates) lines.push(`  gate     ${g.name} (${g.source}): ${g.status} — ${g.detail}`);
  for (const v of s.violations ?? []) lines.push(`  refused  ${v.op} ${v.path}: ${v.reason}`);
  if (s.pendingWaiver) {
    const w = s.pendingWaiver;
    lines.push(`  waiver   awaiting approval for ${w.gates.join(', ')} (+${w.delta.maxFiles} files, +${w.delta.maxLoc} lines): ${w.approvals.length}/${w.approversRequired}, until ${w.deadline}`);
  }
  if (s.verdict) lines.push(`  verdict  ${s.verdict.outcome} ${s.verdict.digest}`);
  if (s.delivery) lines.push(`  branch   ${s.delivery.branch} @ ${s.delivery.commit.slice(0, 12)}`);
  if (s.error) lines.push(`  error    ${s.error.type}: ${s.error.message}`);
  for (const p of s.error?.problems ?? []) lines.push(`           - ${p}`);
  return lines.join('\n');
}

/** Prints history entries not printed yet; returns how many have been printed in total. */
export function printNewTransitions(s: TaskSnapshot, alreadyPrinted: number, write: (line: string) => void): number {
  for (const h of s.history.slice(alreadyPrinted)) write(`${h.at}  ${h.state}${h.note ? `  — ${h.note}` : ''}`);
  return s.history.length;
}
