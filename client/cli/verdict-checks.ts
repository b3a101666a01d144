/**
 * What `arbiter verdict verify` checks once the signature is known to be a trusted key's: that
 * the statement is a consistent Arbiter verdict (its summary says what its evidence says) and,
 * for a stored verdict, that it is the one the database records for the task. One list, so
 * further checks (the approvers' signatures) are added here and reported the same way.
 */
import { verdictEvidence } from '../../domain/dsse';
import { statementProblems } from '../../domain/vsa-checks';
import type { EnvelopeCheck } from '../../host/signing';

/** The stored row a verdict read from the database must match. */
export interface StoredVerdictRef {
  tenantId: string;
  taskId: string;
  outcome: string;
  digest: string;
}

/** Every problem with a checked envelope (its own first); empty when the verdict holds. */
export function verdictProblems(check: EnvelopeCheck, stored?: StoredVerdictRef): string[] {
  const problems = [...check.problems];
  if (!check.statement) return problems;
  problems.push(...statementProblems(check.statement));
  if (!stored) return problems;
  if (check.statementDigest !== stored.digest)
    problems.push(`stored digest ${stored.digest} does not match the envelope's statement ${check.statementDigest}`);
  const evidence = verdictEvidence(check.statement);
  if (
    evidence &&
    (evidence.outcome !== stored.outcome || evidence.taskId !== stored.taskId || evidence.tenantId !== stored.tenantId)
  )
    problems.push('the envelope does not state the stored outcome for this task');
  return problems;
}
