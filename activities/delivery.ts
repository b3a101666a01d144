/**
 * `deliverChange`: builds the delivery commit inside the target repository from the stored,
 * verified patch — applied to the base commit through a private index, so the target's current
 * branch, index and working tree are never touched — and creates branch `arbiter/<taskId>`.
 * The commit's dates come from the workflow, so a retry builds the identical commit and finds
 * the branch already delivered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { log } from '@temporalio/activity';
import { DeliverChangeInput, type Delivery } from '../domain/activity-io';
import { DeliveryConflictError, DeliveryIntegrityError } from '../domain/errors';
import { deliveryBranch } from '../temporal-config';
import { loadArtifact } from './artifacts';
import type { ActivityDeps } from './deps';
import { git, resolveCommit } from './git';
import { parseActivityInput } from './input';
import { appendProvenance } from '../db/provenance';

type Input = ReturnType<typeof DeliverChangeInput.parse>;

function commitMessage(input: Input): string {
  return [
    `${input.specId}: change by Arbiter task ${input.taskId}`,
    '',
    `Arbiter-Tenant: ${input.tenantId}`,
    `Arbiter-Task: ${input.taskId}`,
    `Arbiter-Verdict: ${input.verdictDigest}`,
  ].join('\n');
}

/** Applies the patch to the base commit in a throwaway index and commits the resulting tree. */
async function buildCommit(input: Input, patch: Buffer): Promise<string> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'arbiter-deliver-'));
  const env = {
    GIT_INDEX_FILE: path.join(scratch, 'index'),
    GIT_AUTHOR_NAME: 'Arbiter',
    GIT_AUTHOR_EMAIL: 'arbiter@localhost',
    GIT_AUTHOR_DATE: input.deliveredAt,
    GIT_COMMITTER_NAME: 'Arbiter',
    GIT_COMMITTER_EMAIL: 'arbiter@localhost',
    GIT_COMMITTER_DATE: input.deliveredAt,
  };
  try {
    await git(input.repoPath, ['read-tree', input.baseCommit], { env });
    if (patch.length > 0) await git(input.repoPath, ['apply', '--cached', '--binary', '--whitespace=nowarn', '-'], { env, input: patch });
    const tree = (await git(input.repoPath, ['write-tree'], { env })).trim();
    if (tree !== input.treeId) {
      throw new DeliveryIntegrityError(`delivered tree ${tree} differs from the verified tree ${input.treeId}`);
    }
    return (await git(input.repoPath, ['commit-tree', tree, '-p', input.baseCommit, '-m', commitMessage(input)], { env })).trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Builds the `deliverChange` activity. */
export function createDeliveryActivities({ db }: ActivityDeps) {
  return {
    async deliverChange(raw: DeliverChangeInput): Promise<Delivery> {
      const input = parseActivityInput(DeliverChangeInput, raw);
      const branch = deliveryBranch(input.taskId);
      const patch = await loadArtifact(db, input.artifactId, input.patchDigest);
      const commit = await buildCommit(input, patch);
      const existing = await resolveCommit(input.repoPath, `refs/heads/${branch}`);
      if (existing && existing !== commit) throw new DeliveryConflictError(branch, existing, commit);
      // The empty old value makes the update create-only: a branch that appeared meanwhile is not overwritten.
      if (!existing) await git(input.repoPath, ['update-ref', '-m', `arbiter: deliver ${input.taskId}`, `refs/heads/${branch}`, commit, '']);
      await appendProvenance(db, { tenantId: input.tenantId, eventKey: `task/${input.taskId}/delivered`, kind: 'change.delivered', subject: `${input.tenantId}/${input.taskId}`, payload: { branch, commit, repoPath: input.repoPath, verdictDigest: input.verdictDigest } });
      log.info('change delivered', { branch, commit });
      return { branch, commit };
    },
  };
}
