/**
 * `resolveRepo`: the path a task's repository name stands for, looked up among its tenant's
 * registrations. The workflow calls it first, so a task naming an unknown repository (or
 * another tenant's) is REJECTED before anything is cloned or read, and the submitter never
 * chooses a path on the worker.
 */
import { log } from '@temporalio/activity';
import { ResolveRepoInput, type ResolvedRepo } from '../domain/activity-io';
import { UnknownRepoError } from '../domain/errors';
import { findRepo, isTenantRepoPath } from '../db/repos';
import { assertOwnRepository } from '../host/workspace';
import type { ActivityDeps } from './deps';
import { parseActivityInput } from './input';

/**
 * Refuses a repository path that is not one of the tenant's registrations. The path travels in
 * the activity's input, which whoever runs workflow code in the namespace writes: a run of their
 * own could otherwise clone, read the policy of, or deliver into any repository on the worker.
 * A registration removed meanwhile stops the task at its next step that reads the repository.
 * So does one that is not a repository's own top (registered before `repos add` refused such a
 * path, or its `.git` replaced since): it shares another repository's objects and refs.
 */
export async function requireTenantRepo(deps: Pick<ActivityDeps, 'db'>, tenantId: string, path: string): Promise<void> {
  if (!(await isTenantRepoPath(deps.db, tenantId, path))) throw new UnknownRepoError(tenantId, path, 'path');
  await assertOwnRepository(path);
}

/** Builds `resolveRepo`. */
export function createRepoActivities(deps: ActivityDeps) {
  return {
    async resolveRepo(raw: ResolveRepoInput): Promise<ResolvedRepo> {
      const input = parseActivityInput(ResolveRepoInput, raw);
      const found = await findRepo(deps.db, input.tenantId, input.repo);
      if (!found) throw new UnknownRepoError(input.tenantId, input.repo);
      log.info('repository resolved', { repo: found.name, path: found.path });
      return { repo: found.name, path: found.path };
    },
  };
}
