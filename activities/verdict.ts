/**
 * `issueVerdict`: computes the verdict from the gate evidence, signs it as an in-toto
 * statement in a DSSE envelope (ed25519), and stores it once per task; a retry returns the
 * verdict already stored.
 */
import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { IssueVerdictInput, type IssuedVerdict } from '../domain/activity-io';
import { verdictStatement } from '../domain/dsse';
import { buildVerdictPayload } from '../domain/verdict';
import type { VerdictOutcome } from '../domain/task';
import { verdicts } from '../db/schema';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { currentRun } from './run-identity';
import { appendProvenance } from '../db/provenance';

/** Builds the `issueVerdict` activity. */
export function createVerdictActivities({ db, signer }: ActivityDeps) {
  return {
    async issueVerdict(raw: IssueVerdictInput): Promise<IssuedVerdict> {
      const input = parseActivityInput(IssueVerdictInput, raw);
      const payload = buildVerdictPayload({ ...input, run: currentRun() });
      // The digest names the exact signed statement bytes; the envelope text is stored verbatim.
      const { envelope, statementDigest: digest } = signer.signStatement(verdictStatement(payload));
      await db
        .insert(verdicts)
        .values({ id: randomUUID(), tenantId: input.tenantId, taskId: input.taskId, outcome: payload.outcome, digest, payload, envelope })
        .onConflictDoNothing();
      const [stored] = await db
        .select()
        .from(verdicts)
        .where(and(eq(verdicts.tenantId, input.tenantId), eq(verdicts.taskId, input.taskId)));
      await appendProvenance(db, { tenantId: input.tenantId, eventKey: `task/${input.taskId}/verdict`, kind: 'verdict.issued', subject: `${input.tenantId}/${input.taskId}`, payload: { outcome: stored.outcome, digest: stored.digest, keyId: signer.keyId } });
      log.info('verdict issued', { outcome: stored.outcome, digest: stored.digest });
      return { verdictId: stored.id, outcome: stored.outcome as VerdictOutcome, digest: stored.digest };
    },
  };
}
