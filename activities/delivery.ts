/**
 * `deliverChange`: commits the workspace change and fetches it into the target repository as
 * branch `arbiter/<taskId>`. A fetch into a branch that is not checked out touches neither the
 * target's current branch nor its working tree. Re-running finds the branch already delivered.
 */
import { log } from '@temporalio/activity';
import { DeliverChangeInput, type Delivery } from '../domain/activity-io';
import { DeliveryConflictError } from '../domain/errors';
import { deliveryBranch } from '../temporal-config';
import type { ActivityDeps } from './deps';
import { git, resolveCommit } from './git';

function commitMessage(input: DeliverChangeInput): string {
  return [
    `${input.specId}: change by Arbiter task ${input.taskId}`,
    '',
    `Arbiter-Tenant: ${input.tenantId}`,
    `Arbiter-Task: ${input.taskId}`,
    `Arbiter-Verdict: ${input.verdictDigest}`,
  ].join('\n');
}

/** The workspace's delivery commit, created on first call and reused after. */
async function workspaceCommit(input: DeliverChangeInput, branch: string): Promise<string> {
  const existing = await resolveCommit(input.workspacePath, `refs/heads/${branch}`);
  if (existing) return existing;
  await git(input.workspacePath, ['add', '--all']);
  await git(input.workspacePath, ['commit', '--quiet', '--no-verify', '--allow-empty', '-m', commitMessage(input)]);
  await git(input.workspacePath, ['branch', branch, 'HEAD']);
  const commit = await resolveCommit(input.workspacePath, `refs/heads/${branch}`);
  if (!commit) throw new Error(`failed to create ${branch} in the workspace`);
  return commit;
}

/** Builds the `deliverChange` activity. */
export function createDeliveryActivities(_deps: ActivityDeps) {
  return {
    async deliverChange(raw: DeliverChangeInput): Promise<Delivery> {
      const input = DeliverChangeInput.parse(raw);
      const branch = deliveryBranch(input.taskId);
      const commit = await workspaceCommit(input, branch);
      const inTarget = await resolveCommit(input.repoPath, `refs/heads/${branch}`);
      if (inTarget && inTarget !== commit) throw new DeliveryConflictError(branch, inTarget, commit);
      if (!inTarget) {
        await git(input.repoPath, ['fetch', '--quiet', '--no-tags', input.workspacePath, `refs/heads/${branch}:refs/heads/${branch}`]);
      }
      log.info('change delivered', { branch, commit });
      return { branch, commit };
    },
  };
}
