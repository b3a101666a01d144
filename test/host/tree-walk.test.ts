/**
 * The walk before git reads an agent's work tree, on its own: it reports folders holding a `.git`
 * of their own and refuses, as the agent's doing, a tree with more entries than a workspace may
 * hold, however they lie (one folder or many), before git or a gate's checkout reads them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PolicyViolationError } from '../../domain/errors';
import { nestedRepositories } from '../../host/tree-walk';

describe('host: the walk over a work tree', () => {
  let tree: string;
  beforeEach(() => {
    tree = mkdtempSync(path.join(os.tmpdir(), 'arbiter-walk-'));
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));

  const fill = (dir: string, count: number) => {
    mkdirSync(path.join(tree, dir), { recursive: true });
    for (let i = 0; i < count; i++) writeFileSync(path.join(tree, dir, `f${i}`), '');
  };

  it('finds nested repositories in a tree within its entry limit', async () => {
    fill('src', 50);
    mkdirSync(path.join(tree, 'vendor/lib/.git'), { recursive: true });
    assert.deepEqual(await nestedRepositories(tree, { maxEntries: 100 }), ['vendor/lib']);
  });

  for (const [shape, dirs] of [
    ['one folder', ['flat']],
    ['many folders', ['a', 'b/c', 'b/d', 'e']],
  ] as const)
    it(`refuses more entries than the limit, in ${shape}`, async () => {
      for (const dir of dirs) fill(dir, Math.ceil(120 / dirs.length));
      await assert.rejects(
        nestedRepositories(tree, { maxEntries: 100 }),
        (err: unknown) =>
          err instanceof PolicyViolationError &&
          /^measure '.+' refused: more than 100 files, folders and links in the work tree$/.test(err.message),
      );
    });
});
