/**
 * A gate's checkout of a tree, read a batch of blobs at a time and a blob larger than a batch
 * written by git itself: the files must still be the tree's, byte for byte, with their modes.
 */
import assert from 'node:assert/strict';
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { treeEntries } from '../../host/diff';
import { checkoutTree } from '../../host/tree-checkout';
import { gitIn, makeRepo, tempDir } from '../helpers/fixtures';

/** 40 MiB holding NUL, past one batch of the checkout's reads. */
const LARGE = Buffer.alloc(40 * 2 ** 20, 'large\0').toString('latin1');

describe('host: a checkout of a tree', function () {
  this.timeout(60_000);

  it('writes every file as the tree holds it, one larger than a batch of blobs too', async () => {
    const files = { 'a.txt': 'same\n', 'b/a.txt': 'same\n', 'run.sh': '#!/bin/sh\n', 'big/large.bin': LARGE };
    const repo = makeRepo(files);
    chmodSync(path.join(repo, 'run.sh'), 0o755);
    symlinkSync('a.txt', path.join(repo, 'link'));
    gitIn(repo, 'add', '--all');
    gitIn(repo, 'commit', '--quiet', '-m', 'modes and a link');
    const gitDir = path.join(repo, '.git');
    const dest = path.join(tempDir('arbiter-checkout-'), 'tree');

    await checkoutTree(gitDir, await treeEntries(gitDir, gitIn(repo, 'rev-parse', 'HEAD^{tree}')), dest);

    for (const [file, content] of Object.entries(files))
      assert.ok(readFileSync(path.join(dest, file)).equals(Buffer.from(content, 'latin1')), `${file} as committed`);
    assert.equal(lstatSync(path.join(dest, 'run.sh')).mode & 0o777, 0o755);
    assert.equal(lstatSync(path.join(dest, 'big/large.bin')).mode & 0o777, 0o644);
    assert.equal(readlinkSync(path.join(dest, 'link')), 'a.txt');
    assert.deepEqual(readdirSync(path.join(dest, 'big')), ['large.bin'], 'no temporary file left beside it');
    assert.deepEqual(readdirSync(dest).sort(), ['a.txt', 'b', 'big', 'link', 'run.sh']);
  });

  it('writes blobs that take several batches, one blob named by two paths in another batch than its neighbours', async () => {
    // Five distinct 12 MiB blobs (60 MiB, about two batches) and a copy of the first under another name.
    const blob = (i: number) => Buffer.alloc(12 * 2 ** 20, `part ${i}\0`).toString('latin1');
    const files: Record<string, string> = { 'copy/of-0.bin': blob(0) };
    for (let i = 0; i < 5; i++) files[`parts/${i}.bin`] = blob(i);
    const repo = makeRepo(files);
    const gitDir = path.join(repo, '.git');
    const dest = path.join(tempDir('arbiter-checkout-'), 'tree');

    await checkoutTree(gitDir, await treeEntries(gitDir, gitIn(repo, 'rev-parse', 'HEAD^{tree}')), dest);

    for (const [file, content] of Object.entries(files))
      assert.ok(readFileSync(path.join(dest, file)).equals(Buffer.from(content, 'latin1')), `${file} as committed`);
    assert.deepEqual(readdirSync(path.join(dest, 'parts')).sort(), ['0.bin', '1.bin', '2.bin', '3.bin', '4.bin']);
  });
});
