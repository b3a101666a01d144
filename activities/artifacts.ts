/**
 * Large outputs kept in PostgreSQL instead of workflow history. Bytes are stored base64 so a
 * patch comes back exactly as it went in, whatever its encoding; reads re-check the digest.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { artifacts } from '../db/schema';
import { sha256 } from './digest';

/** Stores (or replaces) an artifact and returns its digest. */
export async function storeArtifact(db: Db, a: { id: string; tenantId: string; taskId: string; kind: string; bytes: Buffer }): Promise<string> {
  const digest = sha256(a.bytes);
  const row = { id: a.id, tenantId: a.tenantId, taskId: a.taskId, kind: a.kind, digest, sizeBytes: a.bytes.length, encoding: 'base64', content: a.bytes.toString('base64') };
  await db.insert(artifacts).values(row).onConflictDoUpdate({ target: artifacts.id, set: row });
  return digest;
}

/** The artifact's bytes, or an error when it is missing or no longer matches `expectedDigest`. */
export async function loadArtifact(db: Db, id: string, expectedDigest: string): Promise<Buffer> {
  const [row] = await db.select().from(artifacts).where(eq(artifacts.id, id));
  if (!row) throw new Error(`artifact '${id}' not found`);
  const bytes = Buffer.from(row.content, row.encoding === 'base64' ? 'base64' : 'utf8');
  if (sha256(bytes) !== expectedDigest) throw new Error(`artifact '${id}' does not match digest ${expectedDigest}`);
  return bytes;
}
