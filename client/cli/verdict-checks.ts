/**
 * What `arbiter verdict verify` checks once the signature is known to be a trusted key's: that
 * the statement is a consistent Arbiter verdict (its summary says what its evidence says), that
 * it is about what the caller asked (the task, a passing outcome), and for a stored verdict that
 * it is the one the database records for the task's current run. One list, so further checks
 * (the approvers' signatures) are added here and reported the same way.
 */
import { verdictEvidence } from '../../domain/dsse';
import { parseResourceUri } from '../../domain/vsa';
import { statementProblems } from '../../domain/vsa-checks';
import type { VerdictPayload } from '../../domain/verdict';
import type { EnvelopeCheck } from '../../host/signing';
import { taskWorkflowId, type TaskRef } from '../../temporal-config';

/** The stored row a verdict read from the database must match. */
export interface StoredVerdictRef {
  outcome: string;
  digest: string;
  /** The run the row is the verdict of: the task's current run ('' for a task recorded before runs were). */
  runId: string;
}

/**
 * What the caller asked for: a valid signature only says a trusted key signed some verdict, which
 * may be another task's, or a FAIL. A stored verdict is always held to the task it was read for.
 */
export interface VerdictExpectations {
  task?: TaskRef;
  requirePass?: boolean;
  /** The change the caller is about to act on: its git tree, its parent, the run that made it. */
  change?: { treeId?: string; baseCommit?: string; runId?: string };
  /** The repository (its registered name) the caller merges into: the same change may pass in another one's, under its policy. */
  repo?: string;
}

function changeProblems(evidence: VerdictPayload | undefined, change: VerdictExpectations['change'] = {}): string[] {
  const said = (what: string, is: string | undefined, asked: string) =>
    `the verdict covers ${what} ${is ?? '(none)'}, not ${asked}`;
  const problems: string[] = [];
  if (change.treeId && evidence?.diff.treeId !== change.treeId)
    problems.push(said('the tree', evidence?.diff.treeId, change.treeId));
  if (change.baseCommit && evidence?.baseCommit !== change.baseCommit)
    problems.push(said('a change on', evidence?.baseCommit, change.baseCommit));
  if (change.runId && evidence?.run?.runId !== change.runId)
    problems.push(said('the run', evidence?.run?.runId, change.runId));
  return problems;
}

/**
 * The approvals of a WAIVED verdict whose signed expiry has passed: its waiver no longer stands,
 * which a file shows as well as the record (found in review: a file whose waiver ran out in 2020
 * passed `--require-pass`).
 */
function lapsedApprovals(evidence: VerdictPayload | undefined): string[] {
  if (evidence?.outcome !== 'WAIVED') return [];
  const now = Date.now();
  return (evidence.approvals ?? [])
    .filter((a) => !(Date.parse(a.claim.expiresAt) > now))
    .map((a) => `the waiver approved by ${a.claim.approver} expired at ${a.claim.expiresAt}`);
}

function expectationProblems(evidence: VerdictPayload | undefined, expected: VerdictExpectations): string[] {
  const problems: string[] = [];
  const { task } = expected;
  if (task && (evidence?.tenantId !== task.tenantId || evidence.taskId !== task.taskId))
    problems.push(
      `the envelope is the verdict of ${evidence?.tenantId}/${evidence?.taskId}, not of ${task.tenantId}/${task.taskId}`,
    );
  if (task && evidence?.run && evidence.run.workflowId !== taskWorkflowId(task))
    problems.push(`the envelope names the workflow ${evidence.run.workflowId}, not ${taskWorkflowId(task)}`);
  if (expected.requirePass && evidence?.outcome !== 'PASS' && evidence?.outcome !== 'WAIVED')
    problems.push(`the outcome is ${evidence?.outcome}; --require-pass takes PASS or WAIVED only`);
  if (expected.requirePass) problems.push(...lapsedApprovals(evidence));
  return [...problems, ...changeProblems(evidence, expected.change)];
}

/** The repository the statement's resource names, when the caller named one it must be. */
function repoProblems(statement: EnvelopeCheck['statement'], repo: string | undefined): string[] {
  if (repo === undefined) return [];
  const about = parseResourceUri(statement?.predicate?.resourceUri)?.repo;
  return about === repo ? [] : [`the verdict is about the repository ${about ?? '(none)'}, not ${repo}`];
}

/** Every problem with a checked envelope (its own first); empty when the verdict holds. */
export function verdictProblems(
  check: EnvelopeCheck,
  stored?: StoredVerdictRef,
  expected: VerdictExpectations = {},
): string[] {
  const problems = [...check.problems];
  // What an envelope no trusted key signed says is anyone's: read no further (an untrusted file
  // of 10,000 approvals held the verifier 29 s checking each, one nested 20,000 deep crashed it).
  if (check.statement === undefined || problems.length) return problems;
  problems.push(...statementProblems(check.statement));
  const evidence = verdictEvidence(check.statement ?? undefined);
  problems.push(...expectationProblems(evidence, expected));
  problems.push(...repoProblems(check.statement, expected.repo));
  if (!stored) return problems;
  if (check.statementDigest !== stored.digest)
    problems.push(`stored digest ${stored.digest} does not match the envelope's statement ${check.statementDigest}`);
  if (evidence && evidence.outcome !== stored.outcome)
    problems.push(`the envelope states ${evidence.outcome}, the stored verdict ${stored.outcome}`);
  // An earlier run's genuine verdict (one before a reset, say) in the current run's row is not its verdict.
  if (evidence && (evidence.run?.runId ?? '') !== stored.runId)
    problems.push(
      `the envelope is the verdict of run ${evidence.run?.runId ?? '(none)'}, not of the task's current run ${stored.runId || '(none)'}`,
    );
  return problems;
}
