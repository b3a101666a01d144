/**
 * `arbiter verdict verify` binds a genuine verdict to what the caller asked: a signature only
 * says a trusted key signed some statement, which may be no verdict at all, another task's, a
 * FAIL, or an earlier run's placed in the current run's row. Each is refused here.
 */
import assert from 'node:assert/strict';
import { symlinkSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { tasks, verdicts } from '../../db/schema';
import { createVerdictSigner, loadOrCreateSigningKey } from '../../host/signing';
import { IN_TOTO_PAYLOAD_TYPE, verdictEvidence } from '../../domain/dsse';
import { defaultSigningKeyFile } from '../../workers/worker';
import { arbiter, cliEnv } from '../helpers/cli';
import type { TaskSnapshot } from '../../domain/task';
import {
  addScriptedAgent,
  GOOD_PLAN,
  gitIn,
  makeRepo,
  registerRepo,
  repoDir,
  specYaml,
  uniqueId,
} from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';
import { tempDir } from '../helpers/temp';

describe('arbiter verdict verify: what a genuine verdict is a verdict of', function () {
  this.timeout(180_000);
  const dir = tempDir('arbiter-verdict-binding-');
  let tenant: string;
  type Saved = { taskId: string; file: string; final: TaskSnapshot; repo: string; repoName: string };
  let passed: Saved;
  let failed: Saved;
  let workerKey: string;

  /** Runs a task of `tenant` with `gates` to its end and saves its verdict's envelope. */
  async function verdictOf(gates: { name: string; argv: string[] }[], state: string) {
    const input = {
      tenantId: tenant,
      taskId: uniqueId('task'),
      specYaml: specYaml(),
      repo: await registerRepo(tenant),
    };
    const final = await runToEnd({ ...input, gates });
    assert.equal(final.state, state, JSON.stringify(final.error));
    const file = path.join(dir, `${input.taskId}.json`);
    writeFileSync(file, (await arbiter(['verdict', 'show', `${tenant}/${input.taskId}`], cliEnv())).stdout);
    return { taskId: input.taskId, file, final, repo: repoDir(input.repo), repoName: input.repo };
  }

  const verify = (args: string[], cwd?: string) => arbiter(['verdict', 'verify', ...args], cliEnv(), 90_000, cwd);

  before(async () => {
    tenant = uniqueId('binding');
    await addScriptedAgent(tenant, GOOD_PLAN, { maxConcurrency: 4 });
    workerKey = `${defaultSigningKeyFile(testStack().home)}.pub`;
    const check = ['node', '-e', 'require("./src/feature.js")() === 42 || process.exit(3)'];
    [passed, failed] = await Promise.all([
      verdictOf([{ name: 'check', argv: check }], 'COMPLETED'),
      verdictOf([{ name: 'tests', argv: ['node', '-e', 'process.exit(1)'] }], 'FAILED'),
    ]);
  });

  it('refuses a trusted signature over null, 0, false or "": no verdict at all', async () => {
    const keyFile = path.join(dir, uniqueId('k'), 'k.pem');
    const signer = createVerdictSigner(loadOrCreateSigningKey(keyFile));
    for (const payload of [null, 0, false, '']) {
      const file = path.join(dir, `${uniqueId('empty')}.json`);
      writeFileSync(file, signer.signPayload(IN_TOTO_PAYLOAD_TYPE, payload).envelope);
      const res = await verify([file, '--key', `${keyFile}.pub`]);
      assert.equal(res.code, 1, `${JSON.stringify(payload)}: ${res.stdout}`);
      assert.match(res.stderr, /is not a JSON object/);
    }
  });

  it("with --task, refuses another task's genuine verdict; with --require-pass, a genuine FAIL", async () => {
    const asOther = await verify([passed.file, '--key', workerKey, '--task', `${tenant}/${failed.taskId}`]);
    assert.equal(asOther.code, 1, asOther.stdout);
    assert.match(
      asOther.stderr,
      new RegExp(`verdict of ${tenant}/${passed.taskId}, not of ${tenant}/${failed.taskId}`),
    );
    const asOwn = await verify([passed.file, '--key', workerKey, '--task', passed.taskId, '--tenant', tenant]);
    assert.equal(asOwn.code, 0, asOwn.stderr);

    const fail = await verify([failed.file, '--key', workerKey]);
    assert.equal(fail.code, 0, 'a genuine FAIL is a genuine verdict');
    assert.match(fail.stdout, /^verdict OK: FAILED FAILED \(FAIL\)/);
    for (const target of [failed.file, `${tenant}/${failed.taskId}`]) {
      const required = await verify([target, '--key', workerKey, '--require-pass']);
      assert.equal(required.code, 1, required.stdout);
      assert.match(required.stderr, /the outcome is FAIL; --require-pass takes PASS or WAIVED only/);
    }
    const pass = await verify([`${tenant}/${passed.taskId}`, '--key', workerKey, '--require-pass']);
    assert.equal(pass.code, 0, pass.stderr);
    const misused = await verify([`${tenant}/${passed.taskId}`, '--key', workerKey, '--task', passed.taskId]);
    assert.equal(misused.code, 2, '--task is for a file');
  });

  it('with --tree, --base and --run, refuses a genuine PASS of another change or run than the one merged', async () => {
    const branch = passed.final.delivery!.commit;
    const tree = gitIn(passed.repo, 'rev-parse', `${branch}^{tree}`).trim();
    const base = gitIn(passed.repo, 'rev-parse', `${branch}^`).trim();
    const shown = await arbiter(['verdict', 'show', `${tenant}/${passed.taskId}`, '--json'], cliEnv());
    const runId = verdictEvidence(JSON.parse(shown.stdout).statement)!.run.runId;
    for (const target of [[passed.file, '--task', `${tenant}/${passed.taskId}`], [`${tenant}/${passed.taskId}`]]) {
      const bound = await verify([
        ...target,
        '--key',
        workerKey,
        '--require-pass',
        '--tree',
        tree,
        '--base',
        base,
        '--run',
        runId,
        '--repo',
        passed.repoName,
      ]);
      assert.equal(bound.code, 0, bound.stderr);
    }
    // A script about to merge another change (here the target's own tree, on the delivered commit) is refused.
    const otherTree = gitIn(passed.repo, 'rev-parse', `${base}^{tree}`).trim();
    const wrong = await verify([
      passed.file,
      '--task',
      `${tenant}/${passed.taskId}`,
      '--repo',
      passed.repoName,
      '--key',
      workerKey,
      '--tree',
      otherTree,
      '--base',
      branch,
      '--run',
      '019ae0f0-0000-7000-8000-000000000009',
    ]);
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.match(wrong.stderr, new RegExp(`the verdict covers the tree ${tree}, not ${otherTree}`));
    assert.match(wrong.stderr, new RegExp(`the verdict covers a change on ${base}, not ${branch}`));
    assert.match(
      wrong.stderr,
      new RegExp(`the verdict covers the run ${runId}, not 019ae0f0-0000-7000-8000-000000000009`),
    );
    const malformed = await verify([`${tenant}/${passed.taskId}`, '--repo', 'r', '--key', workerKey, '--tree', 'HEAD']);
    assert.equal(malformed.code, 2, malformed.stdout);
    assert.match(malformed.stderr, /--tree must be a full git object id/);
  });

  // Found in review: a PASS of the same change in another of the tenant's repositories (under its own,
  // laxer policy), pushed here with its base, passed the merge gate.
  it('with --repo, refuses a genuine PASS about another repository; --tree and --base need it', async () => {
    const branch = passed.final.delivery!.commit;
    const bind = ['--tree', gitIn(passed.repo, 'rev-parse', `${branch}^{tree}`).trim()];
    const task = `${tenant}/${passed.taskId}`;
    for (const target of [[task], [passed.file, '--task', task]]) {
      const elsewhere = await verify([...target, '--key', workerKey, '--require-pass', ...bind, '--repo', 'app']);
      assert.equal(elsewhere.code, 1, elsewhere.stdout);
      assert.match(elsewhere.stderr, new RegExp(`the verdict is about the repository ${passed.repoName}, not app`));
    }
    const unbound = await verify([task, '--key', workerKey, '--require-pass', ...bind]);
    assert.equal(unbound.code, 2, unbound.stdout);
    assert.match(unbound.stderr, /--tree and --base need --repo NAME too/);
    const fileOnly = await verify([passed.file, '--key', workerKey, '--repo', passed.repoName]);
    assert.equal(fileOnly.code, 2, fileOnly.stdout);
    assert.match(fileOnly.stderr, /--repo needs --task for a verdict file/);
  });

  it("refuses an earlier run's genuine verdict stored as the current run's", async () => {
    // What a reset leaves and a writer of the table could do: the task's current run holds another run's verdict.
    const { db } = testStack().database;
    const own = and(eq(verdicts.tenantId, tenant), eq(verdicts.taskId, passed.taskId));
    const [row] = await db.select().from(verdicts).where(own);
    const laterRun = '019ae0f0-0000-7000-8000-000000000001';
    try {
      await db.update(verdicts).set({ runId: laterRun }).where(own);
      await db
        .update(tasks)
        .set({ runId: laterRun })
        .where(and(eq(tasks.tenantId, tenant), eq(tasks.id, passed.taskId)));
      const res = await verify([`${tenant}/${passed.taskId}`, '--key', workerKey]);
      assert.equal(res.code, 1, res.stdout);
      assert.match(res.stderr, new RegExp(`verdict of run ${row.runId}, not of the task's current run ${laterRun}`));
    } finally {
      await db.update(verdicts).set({ runId: row.runId }).where(own);
      await db
        .update(tasks)
        .set({ runId: row.runId })
        .where(and(eq(tasks.tenantId, tenant), eq(tasks.id, passed.taskId)));
    }
    const restored = await verify([`${tenant}/${passed.taskId}`, '--key', workerKey]);
    assert.equal(restored.code, 0, restored.stderr);
  });

  it('refuses a default keyring a checkout reaches through a symlink into a folder git ignores, not a named home', async () => {
    const { ARBITER_HOME: _home, ...noHome } = cliEnv();
    const checkout = makeRepo({ 'README.md': '# a repository\n', '.gitignore': 'build/\n' });
    mkdirSync(path.join(checkout, 'build', 'k'), { recursive: true });
    writeFileSync(path.join(checkout, 'build', 'k', 'trusted-keys'), readFileSync(workerKey, 'utf8'));
    symlinkSync('build/k', path.join(checkout, '.arbiter'));
    gitIn(checkout, 'add', '.arbiter');
    gitIn(checkout, 'commit', '-qm', 'keys');
    const res = await arbiter(['verdict', 'verify', passed.file], noHome, 90_000, checkout);
    assert.equal(res.code, 2, res.stdout);
    assert.match(res.stderr, /trusted-keys is reached through the symlink \S+\.arbiter \(to \S+build\/k\)/);
    // A home the operator names may be a link of theirs.
    const named = { ...noHome, ARBITER_HOME: path.join(checkout, '.arbiter') };
    const own = await arbiter(['verdict', 'verify', passed.file], named, 90_000, checkout);
    assert.equal(own.code, 0, own.stderr);
  });
});
