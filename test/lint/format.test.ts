/**
 * Prettier's check of every source file's format, as `npm run lint` runs it: a file that is not
 * formatted fails the run. ESLint's run over the whole project is in purity.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';

describe('npm run lint: prettier', function () {
  this.timeout(180_000);

  it('Prettier finds every source file formatted', () => {
    const run = spawnSync(path.join(projectRoot(), 'node_modules', '.bin', 'prettier'), ['--check', '.'], {
      cwd: projectRoot(),
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, `unformatted files (run \`npm run format\`):\n${run.stdout}${run.stderr}`);
  });
});
