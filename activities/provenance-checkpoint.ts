/**
 * The checkpoint the worker signs after each verdict it issues, so the chain up to that verdict
 * cannot later be cut short or rewritten without `arbiter provenance verify` saying so.
 *
 * Verdicts issued at the same moment share one checkpoint: while one is being taken, the next
 * is queued once, and every verdict that arrives meanwhile waits for that queued one, which
 * starts after they were all recorded and so covers each of them. Under load this signs (and
 * reads the chain) once per batch instead of once per verdict.
 */
import { log } from '@temporalio/activity';
import type { Db } from '../db/client';
import { takeCheckpoint } from '../db/provenance-checkpoints';
import type { VerdictSigner } from '../host/signing';

interface Flight {
  running?: Promise<void>;
  queued?: Promise<void>;
}

/** Per database, per signing key and tenant: the checkpoint being taken and the one queued after it. */
const flights = new WeakMap<Db, Map<string, Flight>>();

/**
 * Signs the head of `tenantId`'s chain. A chain that no longer extends the previous checkpoint
 * is not signed, only logged: the verdict stands, and `provenance verify` names the break
 * against the earlier checkpoint, which a new signature would otherwise paper over.
 */
async function checkpointNow(db: Db, signer: VerdictSigner, tenantId: string): Promise<void> {
  const outcome = await takeCheckpoint(db, signer, tenantId);
  if (!outcome.ok)
    log.error('provenance checkpoint refused: the chain is broken', { tenantId, problems: outcome.problems });
}

/** A checkpoint covering everything recorded before this call, shared with concurrent callers. */
export function checkpointAfterVerdict(db: Db, signer: VerdictSigner, tenantId: string): Promise<void> {
  const byKey = flights.get(db) ?? new Map<string, Flight>();
  flights.set(db, byKey);
  const key = `${signer.keyId}/${tenantId}`;
  const flight = byKey.get(key) ?? {};
  byKey.set(key, flight);
  if (flight.queued) return flight.queued;
  const mine: Promise<void> = (flight.running ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => {
      flight.queued = undefined;
      flight.running = mine;
      return checkpointNow(db, signer, tenantId);
    })
    .finally(() => {
      if (flight.running === mine) flight.running = undefined;
      if (!flight.running && !flight.queued) byKey.delete(key);
    });
  flight.queued = mine;
  return mine;
}
