/**
 * A workspace's mark that its tree is still the checkout a reset left, with nothing run or
 * written in it since. The agent's step takes the mark instead of checking out the same commit a
 * second time (a repository of thousands of files is removed, written and handed over again for
 * nothing); every command and file tool removes it before it touches the tree, and taking it
 * removes it too, so a retried step, or one after anything else ran there, resets as before.
 * The mark lives beside the tree, in the workspace's root, where no command of the task's reaches.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

const FRESH_FILE = 'arbiter-fresh-checkout';

const markOf = (tree: string) => path.join(path.dirname(tree), FRESH_FILE);

/** Records that `tree` was just checked out at `commit`, by the host, and handed over. */
export async function markFreshCheckout(tree: string, commit: string): Promise<void> {
  await fs.writeFile(markOf(tree), `${commit}\n`);
}

/** Removes the mark of `tree`, before anything touches that tree. */
export async function forgetFreshCheckout(tree: string): Promise<void> {
  await fs.rm(markOf(tree), { force: true });
}

/**
 * True when `tree` is a fresh checkout of `commit`; at most once a reset, as the mark is removed
 * (before this returns) whatever it said.
 */
export async function takeFreshCheckout(tree: string, commit: string): Promise<boolean> {
  const said = await fs.readFile(markOf(tree), 'utf8').catch(() => undefined);
  if (said === undefined) return false;
  await fs.rm(markOf(tree), { force: true });
  return said === `${commit}\n`;
}
