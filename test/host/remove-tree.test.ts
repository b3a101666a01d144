/**
 * Attack: an agent nests directories until a path passes Linux's 4,096 bytes. Node's path-based
 * `fs.rm` cannot remove that tree (ENAMETOOLONG), which used to keep the workspace, its sandbox uid
 * and every retry that resets it stuck; `removeTree` removes any depth.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { removeTree } from '../../host/remove-tree';
import { tempDir } from '../helpers/temp';

/** What an agent's command does: 600 nested directories, each entered before the next (no long path ever named). */
function nestDeep(dir: string, levels = 600): void {
  const code = `for (let i = 0; i < ${levels}; i++) { fs.mkdirSync('dddddddd'); process.chdir('dddddddd'); } fs.writeFileSync('f', 'x');`;
  execFileSync(process.execPath, ['-e', `const fs = require('fs'); ${code}`], { cwd: dir });
}

describe('removing a tree an agent wrote', () => {
  it('removes a tree too deep for fs.rm', async () => {
    const dir = path.join(tempDir('arbiter-deep-'), 'tree');
    await fs.mkdir(dir);
    nestDeep(dir);
    await assert.rejects(fs.rm(dir, { recursive: true, force: true }), /ENAMETOOLONG/, 'the attack stands');
    await removeTree(dir);
    assert.equal(existsSync(dir), false);
  });

  it('is content with a path that is not there', async () => {
    await removeTree(path.join(tempDir('arbiter-deep-'), 'missing'));
  });
});
