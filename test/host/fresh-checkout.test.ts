/**
 * The mark that lets the agent's step keep the checkout a reset left: taken once, by one step of
 * two that try at once, and never for a tree folder made anew since (a reset by a worker of a
 * release that keeps no mark).
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { forgetFreshCheckout, markFreshCheckout, takeFreshCheckout } from '../../host/fresh-checkout';
import { tempDir } from '../helpers/temp';

const COMMIT = 'a'.repeat(40);

function freshTree(): string {
  const tree = path.join(tempDir('arbiter-fresh-'), 'tree');
  mkdirSync(tree);
  return tree;
}

describe('host: the fresh-checkout mark', () => {
  it('is taken once, for its commit alone, and forgotten by anything that touches the tree', async () => {
    const tree = freshTree();
    await markFreshCheckout(tree, COMMIT);
    assert.equal(await takeFreshCheckout(tree, COMMIT), true);
    assert.equal(await takeFreshCheckout(tree, COMMIT), false, 'taken already');
    await markFreshCheckout(tree, COMMIT);
    assert.equal(await takeFreshCheckout(tree, 'b'.repeat(40)), false, 'another commit');
    assert.equal(await takeFreshCheckout(tree, COMMIT), false, 'removed by the mismatch too');
    await markFreshCheckout(tree, COMMIT);
    await forgetFreshCheckout(tree);
    assert.equal(await takeFreshCheckout(tree, COMMIT), false);
    assert.deepEqual(readdirSync(path.dirname(tree)), ['tree'], 'nothing left beside the tree');
  });

  it('of two steps taking it at once, one gets it', async () => {
    const tree = freshTree();
    await markFreshCheckout(tree, COMMIT);
    const taken = await Promise.all([takeFreshCheckout(tree, COMMIT), takeFreshCheckout(tree, COMMIT)]);
    assert.deepEqual(taken.sort(), [false, true]);
  });

  it('is not taken for a tree folder made anew since it was written', async () => {
    const tree = freshTree();
    await markFreshCheckout(tree, COMMIT);
    rmSync(tree, { recursive: true });
    mkdirSync(tree);
    assert.equal(await takeFreshCheckout(tree, COMMIT), false);
  });
});
