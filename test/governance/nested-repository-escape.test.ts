/**
 * Attack: a nested repository git could not be kept out of. A folder whose name is not UTF-8 read,
 * as text, like its sibling spelled U+FFFD, so the walk before git never entered it: `git add`
 * made a gitlink of the repository inside, and an ignored nested repository (which `git add`
 * names as an ignored path asked for, exiting 1 after writing the index) had the measurement
 * retried. The retry's `git add` ran `git status` inside the agent's repository, whose own config
 * named a clean filter: the agent's command, on the host, as the worker's user.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { GOOD_PLAN, tempDir } from '../helpers/fixtures';
import { explain, assertFailedByGate, leftBehind, nodeStep, runTask, writeByCommand } from './helpers';

/** Builds, inside the sandbox, a repository whose clean filter touches `marker`, under `src/\xff/sub`. */
function hiddenRepository(marker: string) {
  return nodeStep(`
    const fs = require('fs'), cp = require('child_process');
    const env = { ...process.env, HOME: process.cwd(), GIT_CONFIG_NOSYSTEM: '1' };
    const git = (...a) => cp.execFileSync('git', ['-c', 'user.name=a', '-c', 'user.email=a@b', ...a], { cwd: 'src/tmp', env });
    fs.mkdirSync('src/tmp', { recursive: true });
    git('init', '-q');
    fs.writeFileSync('src/tmp/f', 'a\\n');
    git('add', 'f');
    git('commit', '-qm', 'x');
    fs.writeFileSync('src/tmp/.git/info/attributes', '* filter=x\\n');
    git('config', 'filter.x.clean', ${JSON.stringify(`sh -c 'touch ${marker}; cat'`)});
    const later = Date.now() / 1000 + 100;
    fs.utimesSync('src/tmp/f', later, later);
    fs.mkdirSync('src/\\uFFFD');
    const hidden = Buffer.concat([Buffer.from('src/'), Buffer.from([0xff])]);
    fs.mkdirSync(hidden);
    fs.renameSync('src/tmp', Buffer.concat([hidden, Buffer.from('/sub')]));
    fs.mkdirSync('src/ign/.git', { recursive: true });
    fs.writeFileSync('src/.gitignore', 'ign/\\n');
  `);
}

describe('governance: a nested repository git could not be kept out of', function () {
  this.timeout(300_000);

  it("behind a name that is not UTF-8: refused as the agent's, and its config never runs on the host", async () => {
    const marker = path.join(tempDir('arbiter-escape-'), 'ran');
    const r = await runTask({ files: { 'src/app.js': 'x\n' }, steps: [...GOOD_PLAN, hiddenRepository(marker)] });
    assert.equal(existsSync(marker), false, "the agent's filter ran on the host");
    assert.equal(r.final.state, 'FAILED', explain(r.final));
    assert.equal(r.final.error?.type, 'PolicyViolationError', explain(r.final));
    assert.match(r.final.error?.message ?? '', /a nested repository in a folder whose name is not UTF-8/);
  });

  it('an ignored nested repository and a folder not named in UTF-8: measured, and the tree gate judges', async () => {
    const steps = [
      ...GOOD_PLAN,
      writeByCommand({ 'src/.gitignore': 'ign/\n', 'src/ign/.git/HEAD': 'ref: refs/heads/main\n' }),
      nodeStep(
        "require('fs').mkdirSync(Buffer.from('src/d\\xff', 'latin1')); require('fs').writeFileSync(Buffer.from('src/d\\xff/x.js', 'latin1'), '1;\\n');",
      ),
    ];
    const r = await runTask({ files: { 'src/app.js': 'x\n' }, steps });
    await assertFailedByGate(r, 'tree', /src\/d.*\/x\.js has a name or target that is not valid UTF-8/);
    assert.match(leftBehind(r.final), /src\/ign\//);
  });
});
