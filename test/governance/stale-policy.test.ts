/**
 * Attack (found in review): a policy read stands for every later run of its task id that reads
 * none of its own, however long after. An insider's runs read the lax policy under task ids it
 * has not used yet (its own workflow code may no longer: it must own the task); once the repository's owners tighten it (a blocking test gate, the
 * harness protected), a new run of such an id borrows the old read, is judged by it and signed
 * PASS. Delivery lands a change only as judged by the policy the trusted ref holds now, and
 * `verdict verify --require-pass` takes a PASS only once it was delivered.
 */
import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createActivities } from '../../activities';
import type { DiffSummary, IssuedVerdict, TrustedPolicy, ValidateSpecResult } from '../../domain/activity-io';
import type { GateResult } from '../../domain/task';
import { DEFAULT_REPO_POLICY } from '../../domain/repo-policy';
import type { TaskRef } from '../../temporal-config';
import { gitIn, makeRepo, registerRepo, uniqueId } from '../helpers/fixtures';
import { arbiter, cliEnv } from '../helpers/cli';
import { testActivityDeps, testStack } from '../helpers/stack';
import { defaultSigningKeyFile } from '../../workers/worker';
import { prepareOwned, recordReceived, recordRouted } from '../helpers/tasks';
import { policyYaml } from './helpers';
import { refusedAs, runOf, SPEC } from './insider-run';

const LAX = policyYaml({});
const TIGHT = policyYaml({
  gates: { tests: { mode: 'block', command: ['node', 'test/check.js'] } },
  arbiter: { protected: ['test/'] },
});

const workerKey = () => `${defaultSigningKeyFile(testStack().home)}.pub`;

/** Commits `policy` as the repository's `.caws/policy.yaml` on its trusted branch. */
function commitPolicy(dir: string, policy: string, message: string): void {
  writeFileSync(path.join(dir, '.caws', 'policy.yaml'), policy);
  gitIn(dir, 'commit', '--quiet', '--allow-empty', '-am', message);
}

describe('governance: a change lands only as judged by the policy the repository has now', function () {
  this.timeout(180_000);

  it('a run borrowing a read made before the policy tightened is signed PASS by it, and not delivered', async () => {
    const ref: TaskRef = { tenantId: uniqueId('insider'), taskId: uniqueId('task') };
    const a = createActivities(testActivityDeps());
    const dir = makeRepo({ 'src/app.js': 'module.exports = 1;\n', 'test/check.js': 'process.exit(1);\n' });
    mkdirSync(path.join(dir, '.caws'));
    writeFileSync(path.join(dir, '.caws', 'policy.yaml'), LAX);
    gitIn(dir, 'add', '--all');
    gitIn(dir, 'commit', '--quiet', '-m', 'lax policy');
    const laxCommit = gitIn(dir, 'rev-parse', 'HEAD');
    const repo = await registerRepo(ref.tenantId, dir);
    const repoPath = realpathSync(dir);
    // Days before: a run of the task only reads the policy, and is stopped (a run of the
    // insider's own code that received nothing may not read it at all).
    await assert.rejects(runOf(ref).env.run(a.loadRepoPolicy, { ...ref, repoPath }), /is not recorded/);
    const early = runOf(ref).env;
    await recordReceived(early, a, ref);
    const lax: TrustedPolicy = await early.run(a.loadRepoPolicy, { ...ref, repoPath });
    commitPolicy(dir, TIGHT, 'tighten the policy');

    // A run started after it takes the open task over and reads none, so it is judged by the earlier read.
    const { env, runId } = runOf(ref);
    await recordReceived(env, a, ref);
    await recordRouted({ ...ref, runId });
    const validated: ValidateSpecResult = await env.run(a.validateSpec, { ...ref, specYaml: SPEC });
    const ws = await prepareOwned(env, a, { ...ref, repoPath, baseRef: laxCommit });
    writeFileSync(path.join(ws.workspacePath, 'test', 'check.js'), 'process.exit(0);\n');
    writeFileSync(path.join(ws.workspacePath, 'src', 'app.js'), 'module.exports = 2;\n');
    const measured = { ...ref, workspacePath: ws.workspacePath, baseCommit: ws.baseCommit };
    const diff: DiffSummary = await env.run(a.measureDiff, measured);
    const gates: GateResult[] = await env.run(a.checkBudgetAndScope, {
      ...measured,
      treeId: diff.treeId,
      spec: validated.specRef!,
      policy: DEFAULT_REPO_POLICY,
      trustedCommit: ws.baseCommit,
    });
    const verdictInput = { ...ref, specId: 'TEST-001', specDigest: validated.specDigest, agentId: 'agent' };
    const verdict: IssuedVerdict = await env.run(a.issueVerdict, {
      ...verdictInput,
      baseCommit: ws.baseCommit,
      diff,
      gates,
      policy: lax.provenance,
      riskTier: 3 as const,
      repo,
    });
    assert.equal(verdict.outcome, 'PASS', 'the verdict names the lax policy it was judged by');

    const delivery = {
      ...ref,
      repo,
      repoPath,
      baseCommit: ws.baseCommit,
      treeId: diff.treeId,
      artifactId: diff.artifactId,
      patchDigest: diff.digest,
      specId: 'TEST-001',
      verdictDigest: verdict.digest,
      deliveredAt: new Date().toISOString(),
    };
    await assert.rejects(
      env.run(a.deliverChange, delivery),
      refusedAs('DeliveryNotCoveredError', /the repository's policy changed since the change was judged/),
    );
    assert.equal(gitIn(dir, 'for-each-ref', 'refs/heads/arbiter/'), '', 'nothing delivered');
    // Nor does the application's check take it (it did, found in review): the signed PASS was never delivered.
    const verify = () =>
      arbiter(
        ['verdict', 'verify', `${ref.tenantId}/${ref.taskId}`, '--key', workerKey(), '--require-pass', '--repo', repo],
        cliEnv(),
      );
    const refused = await verify();
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, new RegExp(`no delivery of this verdict is recorded for run ${runId}`));
    // The control: once the trusted ref holds the judged policy's bytes again, the same verdict lands.
    commitPolicy(dir, LAX, 'the lax policy again');
    const delivered: { branch: string; commit: string } = await env.run(a.deliverChange, delivery);
    assert.equal(gitIn(dir, 'show', `${delivered.branch}:src/app.js`), 'module.exports = 2;');
    const taken = await verify();
    assert.equal(taken.code, 0, taken.stderr);
    // A retry of that delivery (its worker lost before it completed) finds it made, whatever changed since.
    commitPolicy(dir, TIGHT, 'tighten the policy again');
    assert.deepEqual(await env.run(a.deliverChange, delivery), delivered);
  });
});
