/**
 * Signed checkpoints of the provenance chain (domain/provenance-checkpoint.ts): taken by the
 * worker after each verdict and by `arbiter provenance checkpoint`, checked by `arbiter provenance
 * verify` against the chain. A checkpoint is signed only over a chain that extends the signer's
 * previous checkpoint intact, so a rewrite is never blessed by a later signature.
 */
import { and, asc, desc, eq } from 'drizzle-orm';
import { CHECKPOINT_PAYLOAD_TYPE, ProvenanceCheckpoint, checkpointProblems } from '../domain/provenance-checkpoint';
import { zodProblems } from '../domain/zod-issues';
import { printable } from '../domain/printable';
import { verifyEnvelope, type VerdictSigner } from '../host/signing';
import type { Db } from './client';
import { chainProblems, provenanceRows, type ProvenanceRow } from './provenance';
import { provenanceCheckpoints } from './schema';

/** A checkpoint envelope as read: the statement when a trusted key signed it, otherwise why it is refused. */
export interface ReadCheckpoint {
  source: string;
  /** The tenant the statement names (claimed only, when refused): whose verification reports it. */
  tenant?: string;
  checkpoint?: ProvenanceCheckpoint;
  problems: string[];
}

/** Reads the checkpoint in `envelope` (found at `source`), accepted only if signed by one of `trustedKeyIds`. */
export function readCheckpoint(envelope: string, source: string, trustedKeyIds: string[]): ReadCheckpoint {
  const check = verifyEnvelope<{ tenant?: unknown }>(envelope, trustedKeyIds, CHECKPOINT_PAYLOAD_TYPE);
  const claimed = check.statement?.tenant;
  // Claimed only, until the signature is checked: escaped, it can name no tenant but one as written.
  const tenant = typeof claimed === 'string' ? printable(claimed) : undefined;
  const parsed = ProvenanceCheckpoint.safeParse(check.statement);
  const problems = [
    ...(trustedKeyIds.length ? [] : ['no trusted key was given to check it with']),
    ...check.problems,
    ...(parsed.success ? [] : zodProblems(parsed.error, { root: 'statement' })),
  ];
  if (problems.length) return { source, tenant, problems: problems.map((p) => `${source}: checkpoint REFUSED: ${p}`) };
  return { source, tenant, checkpoint: parsed.data, problems: [] };
}

/** Reads a stored checkpoint row: its envelope must be trusted and state exactly what its columns say. */
function readStoredCheckpoint(row: typeof provenanceCheckpoints.$inferSelect, trustedKeyIds: string[]): ReadCheckpoint {
  const read = readCheckpoint(row.envelope, `checkpoint table row id ${row.id}`, trustedKeyIds);
  const c = read.checkpoint;
  if (!c) return read;
  const same =
    c.tenant === row.tenantId &&
    c.seq === row.seq &&
    c.headHash === row.headHash &&
    Date.parse(c.at) === row.at.getTime();
  return same
    ? read
    : {
        ...read,
        checkpoint: undefined,
        problems: [`${read.source}: its columns do not match the statement it signs (altered)`],
      };
}

/** Seq and hash lookups over a tenant's rows. */
function chainHeads(rows: ProvenanceRow[]) {
  const bySeq = new Map(rows.map((r) => [r.seq, r.hash]));
  return { hashAt: (seq: number) => bySeq.get(seq), lastSeq: rows.length ? rows[rows.length - 1].seq : -1 };
}

/** What one tenant's verification found. */
export interface TenantVerification {
  tenantId: string;
  rows: number;
  /** Trusted checkpoints compared with the chain (stored and external). */
  checkpoints: number;
  latestCheckpointSeq: number | null;
  problems: string[];
}

/**
 * Walks `tenantId`'s chain, then compares it with every stored checkpoint and every `external`
 * one of this tenant (kept outside the database, so deleting rows here cannot hide a rewrite from it).
 */
export async function verifyWithCheckpoints(
  db: Db,
  tenantId: string,
  trustedKeyIds: string[],
  external: ReadCheckpoint[] = [],
): Promise<TenantVerification> {
  const rows = await provenanceRows(db, tenantId);
  const stored = await db
    .select()
    .from(provenanceCheckpoints)
    .where(eq(provenanceCheckpoints.tenantId, tenantId))
    .orderBy(asc(provenanceCheckpoints.seq));
  const mine = [
    ...stored.map((row) => readStoredCheckpoint(row, trustedKeyIds)),
    ...external.filter((r) => r.tenant === tenantId),
  ];
  const heads = chainHeads(rows);
  const problems = [
    ...chainProblems(rows),
    ...mine.flatMap((r) => (r.checkpoint ? checkpointProblems(r.checkpoint, heads, r.source) : r.problems)),
  ];
  const seqs = mine.flatMap((r) => (r.checkpoint ? [r.checkpoint.seq] : []));
  return {
    tenantId,
    rows: rows.length,
    checkpoints: seqs.length,
    latestCheckpointSeq: seqs.length ? Math.max(...seqs) : null,
    problems,
  };
}

/** Tenants with a stored checkpoint (a tenant whose whole chain was deleted still has these). */
export async function checkpointTenants(db: Db): Promise<string[]> {
  const rows = await db.selectDistinct({ tenantId: provenanceCheckpoints.tenantId }).from(provenanceCheckpoints);
  return rows.map((r) => r.tenantId);
}

/** A signed checkpoint, or why none was signed. */
export type CheckpointOutcome =
  { ok: true; checkpoint: ProvenanceCheckpoint; envelope: string } | { ok: false; problems: string[] };

/** The chain from `signer`'s latest checkpoint on (all of it when there is none), with what breaks it. */
async function rowsSinceLastCheckpoint(db: Db, signer: VerdictSigner, tenantId: string) {
  const [last] = await db
    .select()
    .from(provenanceCheckpoints)
    .where(and(eq(provenanceCheckpoints.tenantId, tenantId), eq(provenanceCheckpoints.keyId, signer.keyId)))
    .orderBy(desc(provenanceCheckpoints.seq))
    .limit(1);
  if (!last) {
    const rows = await provenanceRows(db, tenantId);
    return { rows, problems: chainProblems(rows) };
  }
  const read = readStoredCheckpoint(last, [signer.keyId]);
  if (!read.checkpoint) return { rows: [], problems: read.problems };
  const c = read.checkpoint;
  const rows = await provenanceRows(db, tenantId, c.seq);
  const problems = checkpointProblems(c, chainHeads(rows), `table row id ${last.id}`);
  return { rows, problems: [...problems, ...chainProblems(rows.slice(1), { seq: c.seq, hash: c.headHash })] };
}

/**
 * Signs the head of `tenantId`'s chain and stores the checkpoint (once per seq and key). Refuses
 * when the chain does not extend the signer's previous checkpoint intact, naming why.
 */
export async function takeCheckpoint(db: Db, signer: VerdictSigner, tenantId: string): Promise<CheckpointOutcome> {
  const { rows, problems } = await rowsSinceLastCheckpoint(db, signer, tenantId);
  if (problems.length) return { ok: false, problems };
  const head = rows[rows.length - 1];
  if (!head) return { ok: false, problems: [`tenant ${tenantId} has no provenance events to checkpoint`] };
  const checkpoint = { tenant: tenantId, seq: head.seq, headHash: head.hash, at: new Date().toISOString() };
  const { envelope } = signer.signPayload(CHECKPOINT_PAYLOAD_TYPE, checkpoint);
  await db
    .insert(provenanceCheckpoints)
    .values({
      tenantId,
      seq: head.seq,
      headHash: head.hash,
      at: new Date(checkpoint.at),
      keyId: signer.keyId,
      envelope,
    })
    .onConflictDoNothing();
  return { ok: true, checkpoint, envelope };
}
