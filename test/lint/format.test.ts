/**
 * `npm run lint` as CI runs it: ESLint (purity and the rest of the rules) over the whole project,
 * and Prettier's check of every source file's format. A file that is not formatted fails the run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';

function bin(name: string): string {
  return path.join(projectRoot(), 'node_modules', '.bin', name);
}

describe('npm run lint', function () {
  this.timeout(180_000);

  it('Prettier finds every source file formatted', () => {
    const run = spawnSync(bin('prettier'), ['--check', '.'], { cwd: projectRoot(), encoding: 'utf8' });
    assert.equal(run.status, 0, `unformatted files (run \`npm run format\`):\n${run.stdout}${run.stderr}`);
  });

  it('ESLint reports nothing', () => {
    const run = spawnSync(bin('eslint'), ['.'], { cwd: projectRoot(), encoding: 'utf8' });
    assert.equal(run.status, 0, `eslint problems:\n${run.stdout}${run.stderr}`);
  });
});
