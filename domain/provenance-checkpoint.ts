/**
 * Signed checkpoints of a tenant's provenance chain: the head's sequence number and hash, at a
 * time, signed as a DSSE envelope of its own payload type. The hash chain alone shows a row that
 * was edited in place; only a head someone signed and kept shows that the tail was cut off, or
 * that every hash was recomputed after a change. Pure: which problems a checkpoint reveals.
 */
import { z } from 'zod';

/** DSSE payload type of a checkpoint, so a verdict signature can never pass for one (or the reverse). */
export const CHECKPOINT_PAYLOAD_TYPE = 'application/vnd.arbiter.provenance-checkpoint+json';

/** What a checkpoint states: `tenant`'s chain ended at `seq` with `headHash` at time `at`. */
export const ProvenanceCheckpoint = z
  .object({
    tenant: z.string().min(1),
    seq: z.number().int().min(0),
    headHash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'must be sha256:<64 hex digits>'),
    at: z.string().datetime({ offset: true }),
  })
  .strict();
/** A checkpoint's statement, as signed. */
export type ProvenanceCheckpoint = z.infer<typeof ProvenanceCheckpoint>;

/** The chain as a checkpoint is compared with: each row's hash by seq, and the last seq (-1 when empty). */
export interface ChainHeads {
  hashAt(seq: number): string | undefined;
  lastSeq: number;
}

/**
 * What the chain contradicts in a trusted checkpoint: a chain that ends before the checkpointed
 * seq was truncated; a different hash at that seq means the rows up to it were rewritten (even
 * with every hash recomputed) or the tail was cut and new rows appended in its place.
 */
export function checkpointProblems(c: ProvenanceCheckpoint, chain: ChainHeads, source: string): string[] {
  const what = `checkpoint seq ${c.seq} signed ${c.at} (${source})`;
  if (chain.lastSeq < c.seq)
    return [
      `${what}: TRUNCATED: the chain ends at seq ${chain.lastSeq}, but it held seq ${c.seq} when signed; rows were removed from its end`,
    ];
  const hash = chain.hashAt(c.seq);
  if (hash === undefined) return [`${what}: the chain has no row seq ${c.seq} (removed or renumbered)`];
  if (hash !== c.headHash)
    return [
      `${what}: REWRITTEN: row seq ${c.seq} has hash ${hash}, but ${c.headHash} was signed; rows up to it were changed or replaced`,
    ];
  return [];
}
