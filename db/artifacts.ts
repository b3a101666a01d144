/**
 * Large outputs kept in PostgreSQL instead of workflow history. Bytes are stored base64 so a
 * patch comes back exactly as it went in, whatever its encoding; reads re-check the digest.
 * Each artifact names the run that stored it, and only that run may replace it.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { ArtifactDigestMismatchError, RecordMismatchError } from '../domain/errors';
import type { MeasuredStats } from '../domain/diff';
import type { Db } from './client';
import { artifacts } from './schema';
import type { RunKey } from './run-policies';
import { sha256 } from '../host/digest';

/**
 * Stores an artifact, or replaces one the same run stored under the same id (a step run again
 * after a retry or a rebuilt workspace), and returns its digest. An id another run already used
 * is refused: ids must be per run or content-addressed, so one run never overwrites another's.
 * With `once`, the run may store it again only identically (a retry): a spec validated is what the
 * run's gates were judged by, and a second spec would have its verdict name the one they were not.
 */
export async function storeArtifact(
  db: Db,
  a: {
    id: string;
    tenantId: string;
    taskId: string;
    runId: string;
    kind: string;
    bytes: Buffer;
    change?: PatchChange;
    sourceDigest?: string;
    stats?: MeasuredStats | null;
    once?: boolean;
  },
): Promise<string> {
  const digest = sha256(a.bytes);
  const row = {
    id: a.id,
    tenantId: a.tenantId,
    taskId: a.taskId,
    runId: a.runId,
    kind: a.kind,
    digest,
    sizeBytes: a.bytes.length,
    encoding: 'base64',
    content: a.bytes.toString('base64'),
    treeId: a.change?.treeId ?? null,
    baseCommit: a.change?.baseCommit ?? null,
    sourceDigest: a.sourceDigest ?? null,
    stats: a.stats ?? null,
  };
  const written = await db
    .insert(artifacts)
    .values(row)
    .onConflictDoUpdate({
      target: artifacts.id,
      set: row,
      setWhere: sql`${artifacts.tenantId} = ${a.tenantId} AND ${artifacts.taskId} = ${a.taskId} AND ${artifacts.runId} = ${a.runId}${
        a.once
          ? sql` AND ${artifacts.digest} = ${digest} AND ${artifacts.sourceDigest} IS NOT DISTINCT FROM ${row.sourceDigest}`
          : sql``
      }`,
    })
    .returning({ id: artifacts.id });
  if (written.length === 0)
    throw new RecordMismatchError(
      'artifact',
      a.once
        ? `'${a.id}' is stored already, by another task or run or with other content; run ${a.runId} may not replace it`
        : `'${a.id}' was stored by another task or run; run ${a.runId} may not replace it`,
    );
  return digest;
}

/**
 * Stores a run's patch: the first attempt's under the name it always had, each retry's beside
 * it, so every attempt's change stays readable. Returns where, and its digest.
 */
export async function storePatch(
  db: Db,
  p: {
    tenantId: string;
    taskId: string;
    runId: string;
    attempt?: number;
    bytes: Buffer;
    change: PatchChange;
    /** What measureDiff measured; null for a copy of a patch stored before it recorded that. */
    stats: MeasuredStats | null;
  },
): Promise<{ artifactId: string; digest: string }> {
  const base = `${p.tenantId}/${p.taskId}/${p.runId}/patch`;
  const artifactId = (p.attempt ?? 1) === 1 ? base : `${base}/attempt-${p.attempt}`;
  const { tenantId, taskId, runId, bytes, change, stats } = p;
  const digest = await storeArtifact(db, {
    ...{ id: artifactId, tenantId, taskId, runId, kind: 'patch' },
    ...{ bytes, change, stats },
  });
  return { artifactId, digest };
}

/**
 * The attempt whose patch {@link storePatch} stored as `artifactId`, or undefined for an id it
 * does not make: a verdict's earlier attempts are the ones before its change's.
 */
export function patchAttempt(artifactId: string): number | undefined {
  const named = /\/patch(?:\/attempt-([2-9]|[1-9]\d{1,5}))?$/.exec(artifactId);
  return named ? Number(named[1] ?? 1) : undefined;
}

/** The change a patch is: the tree it makes of the base it was measured from. */
export interface PatchChange {
  treeId: string;
  baseCommit: string;
}

/** Who stored an artifact: the task and run it is bound to. */
export interface ArtifactOwner {
  tenantId: string;
  taskId: string;
  runId: string;
}

/**
 * The artifact's bytes, or an error when it is missing, no longer matches `expectedDigest`, or —
 * when `owner` is given — was stored by another task or run, or is not of `owner.kind` (all
 * final: a reference the owner never received is refused, not retried).
 */
export async function loadArtifact(
  db: Db,
  id: string,
  expectedDigest: string,
  owner?: ArtifactOwner & { kind: string },
): Promise<Buffer> {
  const [row] = await db.select().from(artifacts).where(eq(artifacts.id, id));
  if (!row && owner) throw new RecordMismatchError(owner.kind, `'${id}' was never stored`);
  if (!row) throw new Error(`artifact '${id}' not found`);
  if (owner && (row.tenantId !== owner.tenantId || row.taskId !== owner.taskId || row.runId !== owner.runId))
    throw new RecordMismatchError(
      owner.kind,
      `'${id}' belongs to ${row.tenantId}/${row.taskId} run ${row.runId}, not ${owner.tenantId}/${owner.taskId} run ${owner.runId}`,
    );
  if (owner && row.kind !== owner.kind)
    throw new RecordMismatchError(owner.kind, `'${id}' is a ${row.kind}, not a ${owner.kind}`);
  const bytes = Buffer.from(row.content, row.encoding === 'base64' ? 'base64' : 'utf8');
  if (sha256(bytes) !== expectedDigest) throw new ArtifactDigestMismatchError(id, expectedDigest);
  return bytes;
}

/** A stored patch's measurement and the base it was measured from (null when stored before either was recorded). */
export interface StoredPatch {
  stats: MeasuredStats | null;
  baseCommit: string | null;
}

/** The task's stored patches of `treeId`. */
const patchesOfTree = (task: { tenantId: string; taskId: string }, treeId: string) =>
  and(
    eq(artifacts.tenantId, task.tenantId),
    eq(artifacts.taskId, task.taskId),
    eq(artifacts.kind, 'patch'),
    eq(artifacts.treeId, treeId),
  );

/**
 * The measurement stored with the task's patch of `change` (its tree and digest), and the base it
 * was measured from: `stats` null for a patch stored before migration 0024; undefined when the
 * task stored no such patch.
 */
export async function storedPatchStats(
  db: Db,
  task: { tenantId: string; taskId: string },
  change: { treeId: string; digest: string },
): Promise<StoredPatch | undefined> {
  const rows = await db
    .select({ stats: artifacts.stats, baseCommit: artifacts.baseCommit })
    .from(artifacts)
    .where(and(patchesOfTree(task, change.treeId), eq(artifacts.digest, change.digest)));
  if (!rows.length) return undefined;
  return rows.find((r) => r.stats) ?? rows[0];
}

/**
 * The newest measurement of `change`: `run`'s own, else (a run reset past measuring) the task's;
 * undefined when no run of the task measured that tree from that base. Not an attempt's choosing:
 * a tree an agent's nested repository is kept out of is the tree an earlier attempt measured clean.
 */
export async function treeMeasurement(
  db: Db,
  run: RunKey,
  change: { treeId: string; baseCommit: string },
): Promise<{ stats: MeasuredStats | null } | undefined> {
  const [row] = await db
    .select({ stats: artifacts.stats })
    .from(artifacts)
    .where(and(patchesOfTree(run, change.treeId), eq(artifacts.baseCommit, change.baseCommit)))
    .orderBy(desc(sql`${artifacts.runId} = ${run.runId}`), desc(artifacts.createdAt))
    .limit(1);
  return row;
}

/** Whether the task measured `treeId` from `baseCommit` (any run of it): a tree an agent's retry may start from. */
export async function measuredTree(
  db: Db,
  task: { tenantId: string; taskId: string },
  change: { treeId: string; baseCommit: string },
): Promise<boolean> {
  const rows = await db
    .select({ id: artifacts.id })
    .from(artifacts)
    .where(and(patchesOfTree(task, change.treeId), eq(artifacts.baseCommit, change.baseCommit)))
    .limit(1);
  return rows.length > 0;
}

/**
 * The stored patch `diff` names, when it is one the task stored with that digest: its own
 * measurement's, or for a best-of-N task the judged candidate's, or the copy adopting it made.
 */
export async function storedPatchOf(
  db: Db,
  runs: { own: RunKey; judged: RunKey },
  diff: { artifactId: string; digest: string },
) {
  const [row] = await db
    .select({
      tenantId: artifacts.tenantId,
      taskId: artifacts.taskId,
      kind: artifacts.kind,
      digest: artifacts.digest,
      treeId: artifacts.treeId,
      baseCommit: artifacts.baseCommit,
      stats: artifacts.stats,
    })
    .from(artifacts)
    .where(eq(artifacts.id, diff.artifactId));
  const tasks = [runs.own.taskId, runs.judged.taskId];
  const stored =
    row?.tenantId === runs.own.tenantId &&
    tasks.includes(row.taskId) &&
    row.kind === 'patch' &&
    row.digest === diff.digest;
  return stored ? row : undefined;
}
