/**
 * `loadRepoPolicy`: the target repository's CAWS policy from its trusted ref (see
 * host/trusted-policy.ts). The workflow calls it once per run, before routing; what it read is
 * stored for the run, and the steps that judge by the policy read it from there.
 */
import { log } from '@temporalio/activity';
import { LoadRepoPolicyInput, type TrustedPolicy } from '../domain/activity-io';
import { PolicyMismatchError } from '../domain/errors';
import type { Db } from '../db/client';
import { runPolicyRecord, storeRunPolicy, type RunKey } from '../db/run-policies';
import { loadTrustedPolicy } from '../host/trusted-policy';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { requireTenantRepo } from './repos';
import { currentRun } from './run-identity';
import { requireOwnTask } from './task-ended';

/**
 * A stored policy, whether the run it judges read it itself (not a predecessor), and the
 * repository it was read from (null for a read stored before reads named one).
 */
export interface JudgingPolicy extends TrustedPolicy {
  byThisRun: boolean;
  repoPath: string | null;
}

/**
 * The policy `run` is judged by, as its `loadRepoPolicy` stored it (or, unless `exact`, a
 * predecessor's); `legacy` for the run that held a task when policies began to be stored, whose
 * steps keep the one they are handed.
 */
export async function judgingPolicy(db: Db, run: RunKey, exact = false): Promise<JudgingPolicy | 'legacy'> {
  const record = await runPolicyRecord(db, run, exact);
  if (record.kind === 'read') return { ...record.trusted, byThisRun: record.byThisRun, repoPath: record.repoPath };
  if (record.kind === 'legacy') return 'legacy';
  throw new PolicyMismatchError(
    `no policy was read for run ${run.runId} of task ${run.taskId} (its loadRepoPolicy never ran on a worker)`,
  );
}

/** Builds `loadRepoPolicy`. */
export function createRepoPolicyActivities(deps: ActivityDeps) {
  return {
    async loadRepoPolicy(raw: LoadRepoPolicyInput): Promise<TrustedPolicy> {
      const input = parseActivityInput(LoadRepoPolicyInput, raw);
      await requireTenantRepo(deps, input.tenantId, input.repoPath);
      const identity = currentRun();
      await requireOwnTask(deps.db, input, identity, { open: true, repoPath: input.repoPath });
      const run = { tenantId: input.tenantId, taskId: input.taskId, runId: identity.runId };
      const read = await loadTrustedPolicy(input.repoPath);
      const trusted = await storeRunPolicy(deps.db, run, read, input.repoPath);
      log.info('repository policy loaded', { ...trusted.provenance });
      return trusted;
    },
  };
}
