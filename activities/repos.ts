/**
 * `resolveRepo`: the path a task's repository name stands for, looked up among its tenant's
 * registrations. The workflow calls it first, so a task naming an unknown repository (or
 * another tenant's) is REJECTED before anything is cloned or read, and the submitter never
 * chooses a path on the worker. The run's namespace is checked against the tenant's too.
 */
import { Context, log } from '@temporalio/activity';
import { ResolveRepoInput, type ResolvedRepo } from '../domain/activity-io';
import { TenantNamespaceError, UnknownRepoError } from '../domain/errors';
import { findRepo } from '../db/repos';
import { namespaceForTenant } from '../temporal-config/connection';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';

/** Refuses a run whose namespace is not the one configured for its tenant (when the worker has a mapping). */
function checkNamespace({ temporal }: ActivityDeps, tenantId: string): void {
  if (!temporal) return;
  const actual = Context.current().info.workflowNamespace ?? '';
  const expected = namespaceForTenant(temporal, tenantId) ?? '(none configured)';
  if (actual !== expected) throw new TenantNamespaceError(tenantId, actual, expected);
}

/** Builds `resolveRepo`. */
export function createRepoActivities(deps: ActivityDeps) {
  return {
    async resolveRepo(raw: ResolveRepoInput): Promise<ResolvedRepo> {
      const input = parseActivityInput(ResolveRepoInput, raw);
      checkNamespace(deps, input.tenantId);
      const found = await findRepo(deps.db, input.tenantId, input.repo);
      if (!found) throw new UnknownRepoError(input.tenantId, input.repo);
      log.info('repository resolved', { repo: found.name, path: found.path });
      return { repo: found.name, path: found.path };
    },
  };
}
