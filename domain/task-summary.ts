/**
 * What a person reads about a task, worded once: the CLI's `status` text and the Web UI's
 * current details are two layouts of these lines, so they never tell a task differently.
 */
import type { CandidateView } from './candidates';
import { printable } from './printable';
import type { TaskSnapshot } from './task';

/** One fact about the task: a short label (`spec`, `gate`, …) and its text; an empty label continues the line before. */
export interface SummaryLine {
  label: string;
  text: string;
}

/** The task's name, its state (with the sub-state, if any) and every fact worth showing, in reading order. */
export interface TaskSummary {
  ref: string;
  state: string;
  lines: SummaryLine[];
}

/** Summarises `s` for people; pure, so the workflow and the CLI render the same facts. */
export function summarizeTask(s: TaskSnapshot): TaskSummary {
  return {
    ref: `${s.tenantId}/${s.taskId}`,
    state: `${s.state}${s.subState ? ` (${s.subState})` : ''}`,
    // Each fact stays on its own line, whatever names and messages of an agent's it holds.
    lines: [...workLines(s), ...outcomeLines(s)].map((l) => ({ label: l.label, text: printable(l.text) })),
  };
}

function workLines(s: TaskSnapshot): SummaryLine[] {
  const lines: SummaryLine[] = [];
  if (s.spec)
    lines.push({ label: 'spec', text: `${s.spec.id} — ${s.spec.title} (tier ${s.spec.riskTier}, ${s.spec.mode})` });
  if (s.routing) lines.push({ label: 'agent', text: `${s.routing.agentId} (${s.routing.reason})` });
  for (const a of s.attempts ?? []) {
    const failed = a.gates.filter((g) => g.status === 'fail').map((g) => g.name);
    lines.push({
      label: 'attempt',
      text: `${a.attempt}: FAIL, ${a.diff.filesChanged} file(s) +${a.diff.linesAdded}/-${a.diff.linesDeleted}, failed ${failed.join(', ')}`,
    });
  }
  if (s.attempts?.length) lines.push({ label: 'attempt', text: `${s.attempts.length + 1}: this one, below` });
  for (const c of s.candidates ?? []) lines.push({ label: 'candidate', text: candidateText(c) });
  if (s.candidateChoice) lines.push({ label: 'chosen', text: s.candidateChoice });
  if (s.diff)
    lines.push({ label: 'diff', text: `${s.diff.filesChanged} file(s) +${s.diff.linesAdded}/-${s.diff.linesDeleted}` });
  for (const g of s.gates) lines.push({ label: 'gate', text: `${g.name} (${g.source}): ${g.status} — ${g.detail}` });
  for (const v of s.violations ?? []) lines.push({ label: 'refused', text: `${v.op} ${v.path}: ${v.reason}` });
  return lines;
}

/** One candidate on one line: who, how it ended, its change and what it cost. */
function candidateText(c: CandidateView): string {
  const change = c.linesChanged !== undefined ? `, ${c.filesChanged} file(s) ${c.linesChanged} line(s)` : '';
  const cost =
    c.costUsd !== undefined ? `, $${c.costUsd.toFixed(4)}, ${c.tokens} tokens, ${c.seconds?.toFixed(0)} s` : '';
  return `${c.index} ${c.agentId}: ${c.state}${c.outcome ? ` ${c.outcome}` : ''}${change}${cost}${c.chosen ? ' — chosen' : ''}`;
}

function outcomeLines(s: TaskSnapshot): SummaryLine[] {
  const lines: SummaryLine[] = [];
  const w = s.pendingWaiver;
  if (w)
    lines.push({
      label: 'waiver',
      text: `awaiting approval for ${w.gates.join(', ')} (+${w.delta.maxFiles} files, +${w.delta.maxLoc} lines): ${w.approvals.length}/${w.approversRequired}, until ${w.deadline}, for tree ${w.treeId}`,
    });
  if (s.verdict) lines.push({ label: 'verdict', text: `${s.verdict.outcome} ${s.verdict.digest}` });
  if (s.delivery) lines.push({ label: 'branch', text: `${s.delivery.branch} @ ${s.delivery.commit.slice(0, 12)}` });
  if (s.error) lines.push({ label: 'error', text: `${s.error.type}: ${s.error.message}` });
  for (const p of s.error?.problems ?? []) lines.push({ label: '', text: `- ${p}` });
  return lines;
}
