/**
 * Attack: the agent nests folders past Linux's 4,096-byte path limit in its workspace (by
 * command, each folder entered before the next, no long path ever named). Node's path-based walks
 * cannot read or remove such a tree: the measurement failed as if the host had, retried until the
 * task failed as infrastructure, and the workspace could not be removed, keeping its sandbox uid
 * leased and every later sweep of the host stuck. The change is now refused as the agent's doing,
 * naming the folder, and the host's sweep removes the workspace when its retention ends.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { retainWorkspace, RETENTION_MARKER, sweepWorkspaces } from '../../host/workspace-retention';
import { GOOD_PLAN } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { explain, nodeStep, runTask } from './helpers';

const NEST_600 =
  "process.chdir('src'); for (let i = 0; i < 600; i++) { fs.mkdirSync('dddddddd'); process.chdir('dddddddd'); } fs.writeFileSync('f', 'x');";

describe('governance: a workspace nested past the host path limit', function () {
  this.timeout(120_000);

  it("fails the task as the agent's doing, and the sweep still removes the workspace", async () => {
    const { final, tenant, input } = await runTask({
      steps: [...GOOD_PLAN, nodeStep(`const fs = require('fs'); ${NEST_600}`)],
    });
    assert.equal(final.state, 'FAILED', explain(final));
    assert.equal(final.error?.type, 'PolicyViolationError', explain(final));
    assert.match(final.error?.message ?? '', /^measure 'src\/dddddddd\/.*' refused: folders nested past/);

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
});
