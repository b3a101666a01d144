/**
 * The walk before git reads an agent's work tree, on its own: it reports folders holding a `.git`
 * of their own and refuses, as the agent's doing, a tree with more entries than a workspace may
 * hold, however they lie (one folder or many), before git or a gate's checkout reads them. Names
 * are bytes: one that is not UTF-8 is entered as itself, not as the U+FFFD spelling it reads as.
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

  /** `parts` joined under the tree, as bytes (a part may be a Buffer that is not UTF-8). */
  const at = (...parts: Array<string | Buffer>) =>
    Buffer.concat(parts.flatMap((p, i) => [Buffer.from(i ? '/' : `${tree}/`), Buffer.from(p)]));
  const NOT_UTF8 = Buffer.from([0xff]);

  // Read as text, `\xff` and a sibling spelled U+FFFD were one name: the walk listed that one twice,
  // never entered `\xff`, and git made a gitlink of the repository there, then ran its config's filter.
  it('enters a folder whose name is not UTF-8, beside one spelled as it would read, and refuses a repository in it', async () => {
    mkdirSync(at('\uFFFD'));
    mkdirSync(at(NOT_UTF8, 'sub', '.git'), { recursive: true });
    await assert.rejects(
      nestedRepositories(tree, { maxEntries: 100 }),
      (err: unknown) =>
        err instanceof PolicyViolationError &&
        /^measure '\uFFFD\/sub' refused: a nested repository in a folder whose name is not UTF-8/.test(err.message),
    );
  });

  // git lists an ignored nested repository's name raw: a line of it could read as an error of git's.
  it('refuses a repository in a folder whose name holds a control character', async () => {
    mkdirSync(path.join(tree, 'x\nerror: y', '.git'), { recursive: true });
    await assert.rejects(
      nestedRepositories(tree, { maxEntries: 100 }),
      (err: unknown) => err instanceof PolicyViolationError && /holds a control character/.test(err.message),
    );
  });

  it('walks a folder whose name is not UTF-8 and holds no repository (the tree gate refuses the name)', async () => {
    mkdirSync(at(NOT_UTF8, 'deep'), { recursive: true });
    writeFileSync(at(NOT_UTF8, 'deep', 'x.js'), '');
    mkdirSync(at('ok', '.git'), { recursive: true });
    assert.deepEqual(await nestedRepositories(tree, { maxEntries: 100 }), ['ok']);
  });

  // Each is an argument of git's command line: 120,000 passed what Linux takes (E2BIG), retried as the host's.
  it('refuses more than 1,000 nested repositories', async () => {
    for (let i = 0; i <= 1_000; i++) mkdirSync(path.join(tree, `d${i}`, '.git'), { recursive: true });
    await assert.rejects(
      nestedRepositories(tree, { maxEntries: 10_000 }),
      (err: unknown) =>
        err instanceof PolicyViolationError &&
        /refused: more than 1000 nested repositories in the work tree$/.test(err.message),
    );
  });
});
