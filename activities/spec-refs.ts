/**
 * The validated spec travels by reference: stored once as an artifact bound to the task run that
 * validated it, and read back by id and digest by each activity that works to it. A reference is
 * honoured only for the run it was stored by, so a workflow started by hand cannot point one
 * task's activities at another task's (or run's) spec.
 */
import { and, desc, eq } from 'drizzle-orm';
import { taskSpecArtifactId, type SpecRef } from '../domain/activity-io';
import type { WorkingSpec } from '../domain/spec';
import { loadArtifact, storeArtifact, type ArtifactOwner } from '../db/artifacts';
import type { Db } from '../db/client';
import type { RunKey } from '../db/run-policies';
import { artifacts } from '../db/schema';
import { canonicalJson } from '../domain/canonical';
import { RecordMismatchError } from '../domain/errors';
import { sha256 } from '../host/digest';
import { currentRun } from './run-identity';

/** Stores `spec` under `artifactId` for `owner` (again, identically, on a retry) and returns its reference. */
export async function storeSpec(
  db: Db,
  artifactId: string,
  owner: ArtifactOwner,
  spec: WorkingSpec,
  sourceDigest?: string,
): Promise<SpecRef> {
  const bytes = Buffer.from(JSON.stringify(spec));
  const digest = await storeArtifact(db, { id: artifactId, ...owner, kind: 'spec', bytes, sourceDigest, once: true });
  return { artifactId, digest };
}

/**
 * The spec an activity works to: read by reference (refused when it is another task's or run's,
 * or no longer matches its digest), or — from runs recorded before specs were stored — inline.
 */
export async function resolveSpec(db: Db, owner: ArtifactOwner, spec: SpecRef | WorkingSpec): Promise<WorkingSpec> {
  if (!isSpecRef(spec)) return spec;
  const bytes = await loadArtifact(db, spec.artifactId, spec.digest, { ...owner, kind: 'spec' });
  return JSON.parse(bytes.toString('utf8')) as WorkingSpec;
}

/** The spec of an activity the task run itself scheduled (not a conversation child). */
export function runSpec(db: Db, input: { tenantId: string; taskId: string; spec: SpecRef | WorkingSpec }) {
  return resolveSpec(db, { tenantId: input.tenantId, taskId: input.taskId, runId: currentRun().runId }, input.spec);
}

/** The spec `run` itself validated, never a predecessor's; undefined when it validated none. */
export async function ownValidatedSpec(db: Db, run: RunKey): Promise<WorkingSpec | undefined> {
  const artifactId = taskSpecArtifactId(run);
  const [row] = await db.select({ digest: artifacts.digest }).from(artifacts).where(eq(artifacts.id, artifactId));
  return row && resolveSpec(db, run, { artifactId, digest: row.digest });
}

/**
 * Refuses a spec other than the one the task validated (a run reset past validation: its
 * predecessor's) for an agent to work to: a whole spec from an insider's own workflow code, or a
 * reference to another spec the run stored, set the file tools' scope and tier for the agent's
 * writes. Runs recorded before specs were stored have none to compare with.
 */
export async function requireTaskSpec(db: Db, run: RunKey, spec: WorkingSpec): Promise<void> {
  const recorded = await validatedSpec(db, run);
  if (recorded && specContentDigest(recorded) !== specContentDigest(spec))
    throw new RecordMismatchError('spec', `an agent works to the spec task ${run.taskId} validated, no other`);
}

/**
 * What a gate row names as the spec that fixed it: the validated spec's content, so a run that
 * validated the same text again (a reset) still matches, and any other spec does not.
 */
export function specContentDigest(spec: WorkingSpec): string {
  return sha256(canonicalJson(spec));
}

/** Whether `spec` is a reference (else the whole spec, inline). */
export function isSpecRef(spec: SpecRef | WorkingSpec): spec is SpecRef {
  return 'artifactId' in spec;
}

/**
 * The spec the run's validation stored (a run reset past validation: its predecessor's; never a
 * conversation's copy), read from the record rather than taken from the workflow; undefined when
 * no run of the task validated one.
 */
export async function validatedSpec(db: Db, run: RunKey): Promise<WorkingSpec | undefined> {
  return (await validatedSpecRecord(db, run))?.spec;
}

/** {@link validatedSpec}, with the digest of the text it was validated from (null when stored before migration 0023). */
export async function validatedSpecRecord(
  db: Db,
  run: RunKey,
): Promise<{ spec: WorkingSpec; sourceDigest: string | null } | undefined> {
  const rows = await db
    .select({
      id: artifacts.id,
      runId: artifacts.runId,
      digest: artifacts.digest,
      sourceDigest: artifacts.sourceDigest,
    })
    .from(artifacts)
    .where(and(eq(artifacts.tenantId, run.tenantId), eq(artifacts.taskId, run.taskId), eq(artifacts.kind, 'spec')))
    .orderBy(desc(artifacts.createdAt));
  const validated = rows.filter((r) => r.id === taskSpecArtifactId({ ...run, runId: r.runId }));
  const row = validated.find((r) => r.runId === run.runId) ?? validated[0];
  if (!row) return undefined;
  const owner = { tenantId: run.tenantId, taskId: run.taskId, runId: row.runId, kind: 'spec' };
  const spec = JSON.parse((await loadArtifact(db, row.id, row.digest, owner)).toString('utf8')) as WorkingSpec;
  return { spec, sourceDigest: row.sourceDigest };
}
