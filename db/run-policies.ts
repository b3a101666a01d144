/**
 * The policy each run read from its repository, stored by the activity that read it: the one
 * record of what a run is judged by that no workflow input can change.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { PolicyProvenance, TrustedPolicy } from '../domain/activity-io';
import { canonicalJson } from '../domain/canonical';
import type { Db } from './client';
import { runPolicies } from './schema';

/** One run of one task. */
export interface RunKey {
  tenantId: string;
  taskId: string;
  runId: string;
}

/**
 * What a run's policy record says: the policy its own `loadRepoPolicy` read (or a predecessor's,
 * for a run reset past that step); `legacy` for the run that held a task open when policies began
 * to be stored, which read its policy before; `none` when no run of the task read one on a worker.
 */
export type RunPolicyRecord =
  | { kind: 'read'; trusted: TrustedPolicy; byThisRun: boolean; repoPath: string | null }
  | { kind: 'legacy' }
  | { kind: 'none' };

/** Stores what the run read from `repoPath`, once: a retry of the step keeps, and returns, the first read. */
export async function storeRunPolicy(
  db: Db,
  run: RunKey,
  trusted: TrustedPolicy,
  repoPath: string,
): Promise<TrustedPolicy> {
  await db
    .insert(runPolicies)
    .values({ ...run, policy: trusted.policy, provenance: trusted.provenance, repoPath })
    .onConflictDoNothing();
  const record = await runPolicyRecord(db, run);
  if (record.kind !== 'read') throw new Error(`the policy of run ${run.runId} was not stored`);
  return record.trusted;
}

/** The run's own record, else (unless `exact`) the latest policy any other run of the task read. */
export async function runPolicyRecord(db: Db, run: RunKey, exact = false): Promise<RunPolicyRecord> {
  const rows = await db
    .select({
      runId: runPolicies.runId,
      policy: runPolicies.policy,
      provenance: runPolicies.provenance,
      repoPath: runPolicies.repoPath,
    })
    .from(runPolicies)
    .where(and(eq(runPolicies.tenantId, run.tenantId), eq(runPolicies.taskId, run.taskId)))
    .orderBy(desc(runPolicies.createdAt));
  const row = rows.find((r) => r.runId === run.runId) ?? (exact ? undefined : rows.find((r) => r.policy !== null));
  if (!row) return { kind: 'none' };
  if (!row.policy || !row.provenance) return { kind: 'legacy' };
  return {
    kind: 'read',
    trusted: { policy: row.policy, provenance: row.provenance },
    byThisRun: row.runId === run.runId,
    repoPath: row.repoPath,
  };
}

/** The policy file a provenance names, apart from the commit it was read at. */
export const policyFileOf = (p: PolicyProvenance) => ({ source: p.source, digest: p.digest, file: p.file, ref: p.ref });

/**
 * The runs of the task that read a policy of exactly this provenance, or with `sameFile`, the same
 * policy file at any commit of the trusted ref (compared as canonical JSON).
 */
export async function runsThatRead(
  db: Db,
  task: { tenantId: string; taskId: string },
  provenance: PolicyProvenance,
  sameFile = false,
): Promise<Set<string>> {
  const rows = await db
    .select({ runId: runPolicies.runId, provenance: runPolicies.provenance })
    .from(runPolicies)
    .where(and(eq(runPolicies.tenantId, task.tenantId), eq(runPolicies.taskId, task.taskId)));
  const key = (p: PolicyProvenance) => canonicalJson(sameFile ? policyFileOf(p) : p);
  const wanted = key(provenance);
  return new Set(rows.filter((r) => r.provenance && key(r.provenance) === wanted).map((r) => r.runId));
}
