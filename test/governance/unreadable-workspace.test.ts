/**
 * Attacks on whatever reads the agent's workspace after it ran, by command:
 * - folders nested past Linux's 4,096-byte path limit (each entered before the next, no long path
 *   ever named). Node's path-based walks cannot read or remove them: the measurement failed as if
 *   the host had, retried until the task failed as infrastructure, and the workspace could not be
 *   removed, keeping its sandbox uid leased and every later sweep of the host stuck;
 * - a named pipe where git reads a `.gitignore`: git blocked on it forever, through every retry,
 *   and each attempt left a `git add` behind on the host; also inside a top-level `.GIT`, which
 *   git reads as any folder while a case-blind walk took it for git's own.
 * Each is now refused as the agent's doing, naming the path, and the workspace is still removed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { retainWorkspace, RETENTION_MARKER, sweepWorkspaces } from '../../host/workspace-retention';
import { GOOD_PLAN } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { explain, nodeStep, runTask, tasksAndFailures } from './helpers';

const NEST_600 =
  "process.chdir('src'); for (let i = 0; i < 600; i++) { fs.mkdirSync('dddddddd'); process.chdir('dddddddd'); } fs.writeFileSync('f', 'x');";

describe('governance: a workspace the host cannot read whole', function () {
  this.timeout(120_000);

  it("fails the task as the agent's doing, and the sweep still removes the workspace", async () => {
    const { final, tenant, input } = await runTask({
      steps: [...GOOD_PLAN, nodeStep(`const fs = require('fs'); ${NEST_600}`)],
    });
    assert.equal(final.state, 'FAILED', explain(final));
    assert.equal(final.error?.type, 'PolicyViolationError', explain(final));
    assert.match(
      final.error?.message ?? '',
      /^measure 'src\/dddddddd\/.*' refused: a path of \d+ bytes, past what the host can hold/,
    );

    const { home } = testStack();
    const root = path.join(home, 'workspaces', tenant, input.taskId);
    await waitFor('the failed task to keep its workspace for inspection', async () =>
      existsSync(path.join(root, RETENTION_MARKER)),
    );
    await retainWorkspace(root, new Date(Date.now() - 1000)); // its retention over
    const { removed, failed } = await sweepWorkspaces(home);
    assert.ok(removed.includes(root), `removed: ${removed.join(', ')}; failed: ${JSON.stringify(failed)}`);
    assert.equal(existsSync(root), false);
  });

  it("a named pipe for a .gitignore fails the task at once, naming it, and counts as the agent's FAIL", async () => {
    const { final, tenant } = await runTask({
      steps: [...GOOD_PLAN, nodeStep("require('child_process').execFileSync('mkfifo', ['src/.gitignore'])")],
    });
    assert.equal(final.state, 'FAILED', explain(final));
    assert.equal(final.error?.type, 'PolicyViolationError', explain(final));
    assert.match(final.error?.message ?? '', /^measure 'src\/\.gitignore' refused: a named pipe/);
    assert.deepEqual(
      await tasksAndFailures(tenant),
      [[1, 1]],
      'leaving it does not spare the agent the FAIL its gates would give',
    );
  });

  it("a top-level .GIT (git reads it, the walk took it for git's own) is refused before git can block on a pipe in it", async () => {
    const { final } = await runTask({
      steps: [
        ...GOOD_PLAN,
        nodeStep(
          "require('fs').mkdirSync('.GIT'); require('child_process').execFileSync('mkfifo', ['.GIT/.gitignore'])",
        ),
      ],
    });
    assert.equal(final.state, 'FAILED', explain(final));
    assert.match(final.error?.message ?? '', /^measure '\.GIT' refused: git's own folder name, spelled otherwise/);
  });
});
