/**
 * Checks that a hand-made mutation once removed without any test failing (issue #9, point 6).
 * Each test here names the check it guards; with that check skipped in lib/ the test fails.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import { storeArtifact } from '../../db/artifacts';
import type { DeliverChangeInput, DiffSummary, IssuedVerdict, IssueVerdictInput } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { deliveryBranch, taskWorkflowId, type TaskRef } from '../../temporal-config';
import { gitIn, makeRepo, tempDir, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { assertFailedByGate, refExists, runTask, sha256, writeByCommand } from './helpers';

const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

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
    const ref: TaskRef = { tenantId: uniqueId('mut'), taskId: uniqueId('task') };
    const runId = uniqueId('run');
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: taskWorkflowId(ref), runId } }, { logger: quiet });
    const a = createActivities(testActivityDeps());

    // The verified change adds src/feature.js; the stored patch adds something else.
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
    const patch = execFileSync('git', ['-C', work, 'diff', '--binary', base, otherTree]);

    const artifactId = `${ref.tenantId}/${ref.taskId}/${runId}/patch`;
    const digest = await storeArtifact(testStack().database.db, { id: artifactId, ...ref, runId, kind: 'patch', bytes: patch });
    await env.run(a.recordTransition, { ...ref, workflowId: taskWorkflowId(ref), seq: 0, from: null, to: 'RECEIVED' as const, at: new Date().toISOString() });
    const diff: DiffSummary = { filesChanged: 1, linesAdded: 1, linesDeleted: 0, bytesAdded: 27, binaryFiles: 0, leftBehind: { count: 0, paths: [] }, nestedRepositories: [], treeId, digest, artifactId };
    const gates: GateResult[] = [{ name: 'tests', kind: 'command', source: 'submitter', status: 'pass', detail: 'tests pass' }];
    const verdictInput: IssueVerdictInput = { ...ref, specId: 'TEST-001', specDigest: sha256('spec'), agentId: 'agent', baseCommit: base, diff, gates, policy: { source: 'default', digest: 'default', file: null, ref: 'refs/heads/main', commit: base } };
    const verdict: IssuedVerdict = await env.run(a.issueVerdict, verdictInput);
    assert.equal(verdict.outcome, 'PASS');
    const delivery: DeliverChangeInput = { ...ref, repoPath: repo, baseCommit: base, treeId, artifactId, patchDigest: digest, specId: 'TEST-001', verdictDigest: verdict.digest, deliveredAt: new Date().toISOString() };

    await assert.rejects(env.run(a.deliverChange, delivery), (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, 'DeliveryIntegrityError', err.message);
      assert.match(err.message, new RegExp(`delivered tree ${otherTree} differs from the verified tree ${treeId}`));
      return true;
    });
    assert.equal(refExists(repo, `refs/heads/${deliveryBranch(ref.taskId)}`), false, 'no branch was created');
    assert.equal(gitIn(repo, 'for-each-ref', '--format=%(refname)', 'refs/heads/arbiter/'), '', 'no arbiter branch at all');
  });
});
