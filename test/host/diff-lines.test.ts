/**
 * The line budget counts lines as the languages the change is written in read them, not only as
 * git does: git breaks lines at `\n` alone, so 300 JavaScript statements separated by carriage
 * returns counted as one line, and a tier-1 budget of 250 lines let through a thousand times more
 * code than it says. A CRLF ending is still one line. A file git calls binary is counted the same
 * way: one NUL byte in a JavaScript comment makes a file binary to git and runs all the same.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { measureChange } from '../../host/diff';
import { gitIn } from '../helpers/fixtures';
import { tempDir } from '../helpers/temp';

describe('host: lines counted in a change', () => {
  let repo: string;
  before(() => {
    repo = tempDir('arbiter-lines-');
  });
  after(() => rmSync(repo, { recursive: true, force: true }));

  function commit(files: Record<string, string | null>): string {
    for (const [file, content] of Object.entries(files)) {
      const full = path.join(repo, file);
      if (content === null) rmSync(full);
      else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, content);
      }
    }
    gitIn(repo, 'add', '--all');
    gitIn(repo, 'commit', '--quiet', '--allow-empty', '-m', 'step');
    return gitIn(repo, 'rev-parse', 'HEAD');
  }

  it('counts lone carriage returns, U+2028 and U+2029 as line ends, and CRLF as one', async () => {
    gitIn(repo, 'init', '--quiet', '--initial-branch=main');
    gitIn(repo, 'config', 'core.autocrlf', 'false');
    const base = commit({ 'old.js': 'one\rtwo\rthree\n', 'keep.txt': 'k\n' });
    const statements = Array.from({ length: 300 }, (_, i) => `x${i}()`).join('\r');
    const head = commit({
      'old.js': null,
      'src/packed.js': `${statements}\n`,
      'src/crlf.txt': 'x\r\ny\r\n',
      'src/unicode.js': 'a\u2028b\u2029c\n',
      'src/image.bin': '\0\r\r\r\n\r\r\n',
      'src/nul.js': `/*\0*/\r${statements}\n`,
    });
    const tree = gitIn(repo, 'rev-parse', `${head}^{tree}`);
    const { files } = await measureChange(path.join(repo, '.git'), base, tree);
    const lines = Object.fromEntries(files.map((f) => [f.path, [f.added, f.deleted]]));
    assert.deepEqual(lines, {
      'old.js': [0, 3],
      'src/crlf.txt': [2, 0],
      'src/image.bin': [5, 0],
      'src/nul.js': [301, 0],
      'src/packed.js': [300, 0],
      'src/unicode.js': [3, 0],
    });
  });
});
