/**
 * `deliverChange`: checks that the signed verdict of this run covers exactly what it is asked to
 * deliver, then builds the delivery commit inside the target repository from the stored,
 * verified patch — applied to the base commit through a private index, so the target's current
 * branch, index and working tree are never touched — and creates branch `arbiter/<taskId>`.
 * The commit's dates come from the workflow, so a retry builds the identical commit and finds
 * the branch already delivered.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { log } from '@temporalio/activity';
import { DeliverChangeInput, type Delivery } from '../domain/activity-io';
import { VERDICT_PREDICATE_TYPE, verdictEvidence } from '../domain/dsse';
import { resourceUri } from '../domain/vsa';
import { statementProblems } from '../domain/vsa-checks';
import { DeliveryConflictError, DeliveryIntegrityError, DeliveryNotCoveredError } from '../domain/errors';
import type { RunIdentity, VerdictPayload } from '../domain/verdict';
import type { Db } from '../db/client';
import { recordRunEvent } from '../db/provenance';
import { tasks } from '../db/schema';
import { deliveryBranch } from '../temporal-config';
import { loadArtifact } from '../db/artifacts';
import { findRepo } from '../db/repos';
import type { ActivityDeps } from './deps';
import { git, resolveCommit } from '../host/git';
import { assertOwnRepository } from '../host/workspace';
import { parseActivityInput } from './input';
import { policyProblems } from '../host/trusted-policy';
import { currentRun } from './run-identity';
import { verifyEnvelope } from '../host/signing';
import { storedVerdict } from '../db/verdicts';
import { storedWaivers, waiversNotStanding } from '../db/waiver-standing';
import { claimDelivery } from '../db/deliveries';

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
    if (patch.length > 0)
      await git(input.repoPath, ['apply', '--cached', '--binary', '--whitespace=nowarn', '-'], { env, input: patch });
    const tree = (await git(input.repoPath, ['write-tree'], { env })).trim();
    if (tree !== input.treeId) {
      throw new DeliveryIntegrityError(`delivered tree ${tree} differs from the verified tree ${input.treeId}`);
    }
    return (
      await git(input.repoPath, ['commit-tree', tree, '-p', input.baseCommit, '-m', commitMessage(input)], { env })
    ).trim();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Creates `branch` at `commit`. The empty old value makes the update create-only: a branch that
 * exists is never overwritten — one already at `commit` is this delivery done before (a retry),
 * any other a conflict.
 */
async function createBranch(input: Input, branch: string, commit: string): Promise<void> {
  const ref = `refs/heads/${branch}`;
  try {
    await git(input.repoPath, ['update-ref', '-m', `arbiter: deliver ${input.taskId}`, ref, commit, '']);
  } catch (err) {
    const existing = await resolveCommit(input.repoPath, ref);
    if (!existing) throw err;
    if (existing !== commit) throw new DeliveryConflictError(branch, existing, commit);
  }
}

/**
 * Whether `arbiter/<task>` already holds this delivery: a commit of this tree on this base with
 * this verdict's message. A retry after the branch was made (the worker lost before it completed)
 * finds it, and is not refused because the repository's policy changed since it landed.
 */
async function deliveredBefore(input: Input): Promise<boolean> {
  const commit = await resolveCommit(input.repoPath, `refs/heads/${deliveryBranch(input.taskId)}`);
  if (!commit) return false;
  const [header, ...body] = (await git(input.repoPath, ['cat-file', 'commit', commit])).split('\n\n');
  const [tree, parent, next] = header.split('\n');
  return (
    tree === `tree ${input.treeId}` &&
    parent === `parent ${input.baseCommit}` &&
    !next?.startsWith('parent ') &&
    body.join('\n\n').trim() === commitMessage(input)
  );
}

/** Each way `actual` differs from `expected`, named. */
function mismatches(what: string, pairs: Array<[string, unknown, unknown]>): string[] {
  return pairs
    .filter(([, actual, expected]) => actual !== expected)
    .map(([field, actual, expected]) => `${what} ${field} is '${String(actual)}', not '${String(expected)}'`);
}

/**
 * Everything that keeps this run's signed verdict from covering the delivery asked for: the
 * task must belong to this run, and the verdict stored for this run must be signed by our key,
 * a consistent verification summary, PASS or WAIVED, about this tenant, task, run, repository,
 * base, tree and patch, judged by the target's own policy (its trusted ref), and every waiver it
 * names still standing. Empty when covered.
 */
async function coverageProblems(db: Db, trustedKeyId: string, input: Input, run: RunIdentity): Promise<string[]> {
  const [task] = await db
    .select({ runId: tasks.runId })
    .from(tasks)
    .where(and(eq(tasks.tenantId, input.tenantId), eq(tasks.id, input.taskId)));
  const problems = task
    ? mismatches('task', [['run', task.runId, run.runId]])
    : [`task ${input.tenantId}/${input.taskId} is not recorded`];
  const registered = await findRepo(db, input.tenantId, input.repo);
  problems.push(...mismatches('repository', [['path', registered?.path, input.repoPath]]));
  // Before anything reads the repository: a folder whose .git names another repository is that one.
  if (registered?.path === input.repoPath) await assertOwnRepository(input.repoPath);
  const stored = await storedVerdict(db, input.tenantId, input.taskId, run.runId);
  if (!stored?.envelope) return [...problems, `no signed verdict was issued in run ${run.runId}`];
  const check = verifyEnvelope(stored.envelope, [trustedKeyId]);
  problems.push(...check.problems.map((p) => `verdict envelope: ${p}`));
  problems.push(
    ...mismatches('verdict', [
      ['digest', stored.digest, input.verdictDigest],
      ['signed statement digest', check.statementDigest, stored.digest],
      ['predicate type', check.statement?.predicateType, VERDICT_PREDICATE_TYPE],
    ]),
  );
  if (check.statement) problems.push(...statementProblems(check.statement).map((p) => `verdict statement: ${p}`));
  const verdict = verdictEvidence(check.statement) as Partial<VerdictPayload> | undefined;
  if (verdict?.outcome !== 'PASS' && verdict?.outcome !== 'WAIVED')
    problems.push(`verdict outcome is '${String(verdict?.outcome)}'; only PASS or WAIVED is delivered`);
  if (verdict?.policy)
    problems.push(
      ...(await policyProblems(input.repoPath, verdict.policy, { atTip: !(await deliveredBefore(input)) })),
    );
  else problems.push('verdict names no policy');
  const waived = await storedWaivers(db, input.tenantId, Array.isArray(verdict?.waivers) ? verdict.waivers : []);
  problems.push(...(await waiversNotStanding(db, input.tenantId, waived)));
  return [
    ...problems,
    ...mismatches('verdict', [
      ['tenant', verdict?.tenantId, input.tenantId],
      ['task', verdict?.taskId, input.taskId],
      // The commit message names it first: another string could claim a spec never judged, or forge trailers.
      ['spec', verdict?.specId, input.specId],
      ['workflow id', verdict?.run?.workflowId, run.workflowId],
      ['run', verdict?.run?.runId, run.runId],
      ['base commit', verdict?.baseCommit, input.baseCommit],
      ['tree', verdict?.diff?.treeId, input.treeId],
      ['patch digest', verdict?.diff?.digest, input.patchDigest],
      ['resource', check.statement?.predicate?.resourceUri, resourceUri(input.tenantId, input.repo, input.baseCommit)],
    ]),
  ];
}

/** Builds the `deliverChange` activity. */
export function createDeliveryActivities({ db, signer }: ActivityDeps) {
  return {
    async deliverChange(raw: DeliverChangeInput): Promise<Delivery> {
      const input = parseActivityInput(DeliverChangeInput, raw);
      const run = currentRun();
      // Nothing in the repository is touched before the signed verdict is known to cover this delivery.
      const problems = await coverageProblems(db, signer.keyId, input, run);
      if (problems.length) throw new DeliveryNotCoveredError(problems);
      if (!(await claimDelivery(db, input, run.runId)))
        throw new DeliveryNotCoveredError([
          `task ${input.tenantId}/${input.taskId}: another run claimed its delivery, or the task is no longer run ${run.runId}'s`,
        ]);
      const branch = deliveryBranch(input.taskId);
      const patch = await loadArtifact(db, input.artifactId, input.patchDigest);
      const commit = await buildCommit(input, patch);
      await createBranch(input, branch, commit);
      await recordRunEvent(db, { ...input, runId: run.runId }, 'delivered', 'change.delivered', {
        branch,
        commit,
        repoPath: input.repoPath,
        verdictDigest: input.verdictDigest,
        runId: run.runId,
      });
      log.info('change delivered', { branch, commit });
      return { branch, commit };
    },
  };
}
