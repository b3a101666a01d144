/**
 * The checkpoint the worker signs after each verdict it issues, so the chain up to that verdict
 * cannot later be cut short or rewritten without `arbiter provenance verify` saying so.
 */
import { log } from '@temporalio/activity';
import type { Db } from '../db/client';
import { takeCheckpoint } from '../db/provenance-checkpoints';
import type { VerdictSigner } from '../host/signing';

/**
 * Signs the head of `tenantId`'s chain. A chain that no longer extends the previous checkpoint
 * is not signed, only logged: the verdict stands, and `provenance verify` names the break
 * against the earlier checkpoint, which a new signature would otherwise paper over.
 */
export async function checkpointAfterVerdict(db: Db, signer: VerdictSigner, tenantId: string): Promise<void> {
  const outcome = await takeCheckpoint(db, signer, tenantId);
  if (!outcome.ok)
    log.error('provenance checkpoint refused: the chain is broken', { tenantId, problems: outcome.problems });
}
