/**
 * Provenance tampering as the adversary with the most rights would do it: the tables' owner (a
 * DBA), who must first switch off the append-only triggers, then edits, deletes or rewrites
 * rows with every hash recomputed. Detection is then up to the chain and its checkpoints.
 */
import { asc, eq, sql } from 'drizzle-orm';
import * as path from 'node:path';
import type { DbExecutor } from '../../db/client';
import { appendProvenance, provenanceHash } from '../../db/provenance';
import { provenanceEvents } from '../../db/schema';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { defaultSigningKeyFile } from '../../workers/worker';
import { testStack } from './stack';

const APPEND_ONLY_TABLES = ['provenance_events', 'provenance_checkpoints'];

/**
 * Runs `fn` with provenance's triggers disabled, inside one transaction: ALTER TABLE holds its
 * lock to the end, so no other session ever sees the triggers off.
 */
export async function tamperAsDba(fn: (tx: DbExecutor) => Promise<unknown>): Promise<void> {
  await testStack().database.db.transaction(async (tx) => {
    for (const t of APPEND_ONLY_TABLES) await tx.execute(sql.raw(`ALTER TABLE "${t}" DISABLE TRIGGER USER`));
    await fn(tx);
    for (const t of APPEND_ONLY_TABLES) await tx.execute(sql.raw(`ALTER TABLE "${t}" ENABLE TRIGGER USER`));
  });
}

/** Appends `n` test events (`e<from>`…) to `tenantId`'s chain. */
export async function appendEvents(tenantId: string, n: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++)
    await appendProvenance(testStack().database.db, {
      tenantId,
      eventKey: `e${i}`,
      kind: 'test.event',
      subject: `s${i}`,
      payload: { i },
    });
}

/** Changes row `seq`'s payload and recomputes every hash after it: a chain that walks clean. */
export async function rewriteConsistently(tenantId: string, seq: number, payload: Record<string, unknown>) {
  await tamperAsDba(async (tx) => {
    const rows = await tx
      .select()
      .from(provenanceEvents)
      .where(eq(provenanceEvents.tenantId, tenantId))
      .orderBy(asc(provenanceEvents.seq));
    let prevHash = rows[0].prevHash;
    for (const row of rows) {
      const next = { ...row, prevHash, payload: row.seq === seq ? payload : row.payload };
      const hash = provenanceHash(next);
      await tx
        .update(provenanceEvents)
        .set({ payload: next.payload, prevHash, hash })
        .where(eq(provenanceEvents.id, row.id));
      prevHash = hash;
    }
  });
}

/** The shared test worker's signing key file, its public half (`--key`), and a signer with it. */
export function stackKey() {
  const file = defaultSigningKeyFile(testStack().home);
  return {
    file,
    pub: path.join(path.dirname(file), `${path.basename(file)}.pub`),
    signer: createVerdictSigner(loadOrCreateSigningKey(file)),
  };
}
