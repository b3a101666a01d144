/**
 * How many git programs one task starts, end to end: each is a fork and an exec on the worker
 * host, about 3 ms of CPU, so at load they decided throughput. Counted through a `git` first on
 * PATH that logs its argv and runs the real one (every git call takes PATH from the worker's).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { addScriptedAgent, GOOD_PLAN, makeRepo, taskInput, tempDir, uniqueId } from '../helpers/fixtures';
import { runToEnd } from '../helpers/tasks';

/** A directory holding a `git` that appends its argv to `log` and runs `realGit`. */
function loggingGit(realGit: string, log: string): string {
  const dir = tempDir('arbiter-git-log-');
  writeFileSync(path.join(dir, 'git'), `#!/bin/sh\necho "CALL $*" >> '${log}'\nexec '${realGit}' "$@"\n`, {
    mode: 0o755,
  });
  return dir;
}

describe('git calls per task', function () {
  this.timeout(90_000);
  const savedPath = process.env.PATH;
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('a task from workspace to delivered branch starts at most 26 git programs', async () => {
    const tenant = uniqueId('tenant');
    await addScriptedAgent(tenant, GOOD_PLAN);
    const repo = makeRepo();
    const input = await taskInput(tenant, repo, { gates: [{ name: 'check', argv: ['true'] }] });
    const log = path.join(tempDir('arbiter-git-calls-'), 'calls.log');
    writeFileSync(log, '');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    process.env.PATH = `${loggingGit(realGit, log)}:${savedPath}`;

    const final = await runToEnd(input);
    process.env.PATH = savedPath;

    assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
    // This task's calls: on its repository, or in its workspace (whose path names its tenant).
    // One record a call: an argument may span lines (a commit message names the tenant).
    const calls = readFileSync(log, 'utf8')
      .split(/^CALL /m)
      .filter((call) => call.includes(repo) || call.includes(tenant));
    // 25 today, the index refreshed after the checkout is handed to the task's uid included (the agent's
    // step keeps the checkout prepareWorkspace made). Three check the repository is its own top, where the
    // policy is read, the workspace prepared and the change delivered.
    // At least 20: fewer means the wrapper saw only some of them (git found elsewhere than on PATH).
    assert.ok(calls.length >= 20 && calls.length <= 26, `${calls.length} git calls:\n${calls.join('\n')}`);
  });
});
