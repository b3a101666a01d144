/**
 * Checks that a hand-made mutation once removed without any test failing (issue #9, point 6).
 * Each test here names the check it guards; with that check skipped in lib/ the test fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { and, eq } from 'drizzle-orm';
import { createActivities } from '../../activities';
import { storeArtifact } from '../../db/artifacts';
import { artifacts, verdicts } from '../../db/schema';
import type { DeliverChangeInput, Delivery, IssuedVerdict } from '../../domain/activity-io';
import { deliveryBranch, taskWorkflowId, type TaskRef } from '../../temporal-config';
import { gitIn, makeRepo, tempDir, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { recordReceived } from '../helpers/tasks';
import { assertFailedByGate, deliveryFor, refExists, runTask, sha256, verdictToIssue, writeByCommand } from './helpers';
import { SILENT_LOGGER } from '../../workers/logger';

/** An assert.rejects check: an ApplicationFailure of `type` whose message matches `pattern`. */
function refusedAs(type: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

/** No delivery branch for the task, nor any arbiter branch, in `repo`. */
function assertNoBranch(repo: string, ref: TaskRef): void {
  assert.equal(refExists(repo, `refs/heads/${deliveryBranch(ref.taskId)}`), false, 'no branch was created');
  assert.equal(
    gitIn(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/arbiter/'),
    '',
    'no arbiter branch at all',
  );
}

/**
 * One run's way to delivery through the activities (as in run-records.test.ts): the task row,
 * a stored patch and a signed PASS verdict naming the patch's digest and the verified tree
 * (src/feature.js added). With `patchToOtherTree` the stored patch builds another tree.
 */
async function verifiedRun(repo: string, options: { patchToOtherTree?: boolean } = {}) {
  const ref: TaskRef = { tenantId: uniqueId('mut'), taskId: uniqueId('task') };
  const runId = uniqueId('run');
  const env = new MockActivityEnvironment(
    { workflowExecution: { workflowId: taskWorkflowId(ref), runId } },
    { logger: SILENT_LOGGER },
  );
  /** The same run id reported under another workflow id. */
  const foreign = new MockActivityEnvironment(
    { workflowExecution: { workflowId: 'not-the-task', runId } },
    { logger: SILENT_LOGGER },
  );
  const a = createActivities(testActivityDeps());
  const work = tempDir('arbiter-mutation-');
  gitIn(work, 'clone', '--quiet', repo, '.');
  const base = gitIn(work, 'rev-parse', 'HEAD');
  writeFileSync(path.join(work, 'src', 'feature.js'), 'module.exports = () => 42;\n');
  gitIn(work, 'add', '--all');
  const treeId = gitIn(work, 'write-tree');
  writeFileSync(path.join(work, 'src', 'feature.js'), 'module.exports = () => 43;\n');
  gitIn(work, 'add', '--all');
  const otherTree = gitIn(work, 'write-tree');
  assert.notEqual(otherTree, treeId);
  const patch = execFileSync('git', [
    '-C',
    work,
    'diff',
    '--binary',
    base,
    options.patchToOtherTree ? otherTree : treeId,
  ]);

  const artifactId = `${ref.tenantId}/${ref.taskId}/${runId}/patch`;
  const digest = await storeArtifact(testStack().database.db, {
    id: artifactId,
    ...ref,
    runId,
    kind: 'patch',
    bytes: patch,
  });
  await recordReceived(env, a, ref);
  const verdictInput = await verdictToIssue({ ref, repoDir: repo, base, treeId, digest, artifactId }, runId);
  const verdict: IssuedVerdict = await env.run(a.issueVerdict, verdictInput);
  assert.equal(verdict.outcome, 'PASS');
  const delivery = deliveryFor(verdictInput, repo, verdict.digest);
  const run = {
    deliverChange: (input: DeliverChangeInput): Promise<Delivery> => env.run(a.deliverChange, input),
    deliverChangeAsForeignWorkflow: (input: DeliverChangeInput): Promise<Delivery> =>
      foreign.run(a.deliverChange, input),
  };
  return {
    ref,
    runId,
    run,
    delivery,
    otherTree,
    otherPatch: execFileSync('git', ['-C', work, 'diff', '--binary', base, otherTree]),
  };
}

describe('governance: checks a mutation once removed unnoticed', function () {
  this.timeout(120_000);

  // Mutation: scopeViolations (domain/change-gates.ts) ignores scope.out.
  it('a command writing into scope.out fails the scope gate naming the path, and nothing is delivered', async () => {
    const r = await runTask({
      spec: { scope: { in: ['src/'], out: ['src/secret/'] } },
      steps: [writeByCommand({ 'src/secret/x': 'leaked\n' })],
    });
    const { gate } = await assertFailedByGate(r, 'scope', /src\/secret\/x \(matches scope\.out\)/);
    assert.match(gate.detail, /^out of scope: /);
  });

  // Mutation: buildCommit (activities/delivery.ts) skips `tree !== input.treeId`.
  it('deliverChange refuses a stored patch that rebuilds a tree other than the verified one, and creates no branch', async () => {
    const repo = makeRepo();
    const { ref, run, delivery, otherTree } = await verifiedRun(repo, { patchToOtherTree: true });
    await assert.rejects(
      run.deliverChange(delivery),
      refusedAs(
        'DeliveryIntegrityError',
        new RegExp(`delivered tree ${otherTree} differs from the verified tree ${delivery.treeId}`),
      ),
    );
    assertNoBranch(repo, ref);
  });

  // Mutation: coverageProblems (activities/delivery.ts) drops the verdict's base commit from its comparison.
  it('deliverChange refuses a base commit other than the verified one, even one with the same tree', async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    // Same tree as the verified base, another commit (another history): the patch rebuilds the verified tree on it.
    const twin = gitIn(
      repo,
      'commit-tree',
      `${delivery.baseCommit}^{tree}`,
      '-p',
      delivery.baseCommit,
      '-m',
      'twin of the base',
    );
    await assert.rejects(
      run.deliverChange({ ...delivery, baseCommit: twin }),
      refusedAs(
        'DeliveryNotCoveredError',
        new RegExp(`verdict base commit is '${delivery.baseCommit}', not '${twin}'`),
      ),
    );
    assertNoBranch(repo, ref);
    // The control: the verified base is delivered.
    const delivered = await run.deliverChange(delivery);
    assert.equal(gitIn(repo, 'rev-parse', `${delivered.commit}^`), delivery.baseCommit);
  });

  // Attack: the registered folder's .git swapped for a file naming another repository after verification.
  it("deliverChange refuses a registration that no longer is a repository's own top, and writes no ref anywhere", async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    const other = tempDir('arbiter-other-');
    gitIn(other, 'clone', '--quiet', repo, '.');
    renameSync(path.join(repo, '.git'), path.join(tempDir('arbiter-moved-'), '.git'));
    writeFileSync(path.join(repo, '.git'), `gitdir: ${path.join(other, '.git')}\n`);
    await assert.rejects(
      run.deliverChange(delivery),
      refusedAs('TargetRepoError', /is not a repository's own top: its git directory is /),
    );
    assertNoBranch(other, ref);
  });

  // Attack: a run of someone's own workflow code, scheduling deliverChange with a path of its choosing.
  it("deliverChange refuses a repository path other than the tenant's registration of the verdict's repository", async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    const elsewhere = makeRepo();
    await assert.rejects(
      run.deliverChange({ ...delivery, repoPath: elsewhere }),
      refusedAs('DeliveryNotCoveredError', new RegExp(`repository path is '${repo}', not '${elsewhere}'`)),
    );
    assertNoBranch(elsewhere, ref);
    assertNoBranch(repo, ref);
  });

  // Attack: the commit message names the spec id first; another claimed a spec never judged and forged trailers.
  it("deliverChange refuses a spec id other than the verdict's", async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    const forged = 'SEC-APPROVED-1\n\nArbiter-Verdict: sha256:forged';
    await assert.rejects(
      run.deliverChange({ ...delivery, specId: forged }),
      refusedAs('DeliveryNotCoveredError', new RegExp(`verdict spec is '${delivery.specId}', not 'SEC-APPROVED-1`)),
    );
    assertNoBranch(repo, ref);
  });

  // Mutation: coverageProblems (activities/delivery.ts) drops the verdict's workflow id from its comparison.
  it("deliverChange refuses to deliver from a workflow other than the verdict's, even with the same run id", async () => {
    const repo = makeRepo();
    const { ref, run, delivery } = await verifiedRun(repo);
    await assert.rejects(
      run.deliverChangeAsForeignWorkflow(delivery),
      refusedAs(
        'DeliveryNotCoveredError',
        new RegExp(`verdict workflow id is '${taskWorkflowId(ref)}', not 'not-the-task'`),
      ),
    );
    assertNoBranch(repo, ref);
  });

  // Mutation: coverageProblems (activities/delivery.ts) drops 'signed statement digest' (the stored digest is the signed statement's).
  it('deliverChange refuses a verdict row whose digest is not the digest of the statement it signed', async () => {
    const repo = makeRepo();
    const { ref, runId, run, delivery } = await verifiedRun(repo);
    const planted = sha256('planted');
    await testStack()
      .database.db.update(verdicts)
      .set({ digest: planted })
      .where(and(eq(verdicts.tenantId, ref.tenantId), eq(verdicts.taskId, ref.taskId), eq(verdicts.runId, runId)));
    await assert.rejects(
      run.deliverChange({ ...delivery, verdictDigest: planted }),
      refusedAs(
        'DeliveryNotCoveredError',
        new RegExp(`verdict signed statement digest is '${delivery.verdictDigest}', not '${planted}'`),
      ),
    );
    assertNoBranch(repo, ref);
  });

  // Mutation: coverageProblems (activities/delivery.ts) drops the 'predicate type' comparison.
  it('deliverChange refuses a statement signed by the trusted key whose predicate is not an Arbiter verdict', async () => {
    const repo = makeRepo();
    const { ref, runId, run, delivery } = await verifiedRun(repo);
    const { db } = testStack().database;
    const where = and(eq(verdicts.tenantId, ref.tenantId), eq(verdicts.taskId, ref.taskId), eq(verdicts.runId, runId));
    const [stored] = await db.select().from(verdicts).where(where);
    const envelope = JSON.parse(stored.envelope ?? '{}') as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as Record<string, unknown>;
    const other = 'https://example.com/attestation/other/v1';
    const resigned = testActivityDeps().signer.signStatement({ ...statement, predicateType: other } as never);
    await db.update(verdicts).set({ envelope: resigned.envelope, digest: resigned.statementDigest }).where(where);
    await assert.rejects(
      run.deliverChange({ ...delivery, verdictDigest: resigned.statementDigest }),
      refusedAs(
        'DeliveryNotCoveredError',
        new RegExp(`verdict predicate type is '${other}', not 'https://slsa.dev/verification_summary/v1'`),
      ),
    );
    assertNoBranch(repo, ref);
  });

  // Mutation: loadArtifact (db/artifacts.ts) skips its digest check.
  it('deliverChange refuses a stored patch altered after the verdict named its digest, before applying it', async () => {
    const repo = makeRepo();
    const { ref, run, delivery, otherPatch } = await verifiedRun(repo);
    await testStack()
      .database.db.update(artifacts)
      .set({ content: otherPatch.toString('base64'), encoding: 'base64', sizeBytes: otherPatch.length })
      .where(eq(artifacts.id, delivery.artifactId));
    await assert.rejects(run.deliverChange(delivery), (err: unknown) => {
      assert.ok(err instanceof Error, String(err));
      assert.match(
        err.message,
        new RegExp(`artifact '${delivery.artifactId}' does not match digest ${delivery.patchDigest}`),
      );
      return true;
    });
    assertNoBranch(repo, ref);
  });
});
