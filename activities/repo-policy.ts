/**
 * `loadRepoPolicy`: the target repository's CAWS policy from its trusted ref (see
 * host/trusted-policy.ts). The workflow calls it once per run, before routing, so the policy the
 * run is judged by is fixed in history with its digest.
 */
import { log } from '@temporalio/activity';
import { LoadRepoPolicyInput, type TrustedPolicy } from '../domain/activity-io';
import { loadTrustedPolicy } from '../host/trusted-policy';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';
import { requireTenantRepo } from './repos';

/** Builds `loadRepoPolicy`. */
export function createRepoPolicyActivities(deps: ActivityDeps) {
  return {
    async loadRepoPolicy(raw: LoadRepoPolicyInput): Promise<TrustedPolicy> {
      const input = parseActivityInput(LoadRepoPolicyInput, raw);
      await requireTenantRepo(deps, input.tenantId, input.repoPath);
      const trusted = await loadTrustedPolicy(input.repoPath);
      log.info('repository policy loaded', { ...trusted.provenance });
      return trusted;
    },
  };
}
