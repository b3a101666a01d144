/**
 * A workspace's mark that its tree is still the checkout a reset left, with nothing run or
 * written in it since. The agent's step takes the mark instead of checking out the same commit a
 * second time (a repository of thousands of files is removed, written and handed over again for
 * nothing); every command and file tool removes it before it touches the tree, and taking it
 * removes it too, so a retried step, or one after anything else ran there, resets as before.
 * The mark lives beside the tree, in the workspace's root, where no command of the task's reaches.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

const FRESH_FILE = 'arbiter-fresh-checkout';

const markOf = (tree: string) => path.join(path.dirname(tree), FRESH_FILE);

/**
 * What the mark says: the commit, and which folder the tree is. A reset makes the folder anew, so
 * a reset by a worker of a release that keeps no mark (nor removes one) leaves a mark that names
 * another folder, and is not taken.
 */
async function markText(tree: string, commit: string): Promise<string> {
  const folder = await fs.stat(tree, { bigint: true });
  return `${commit}\n${folder.ino}:${folder.birthtimeNs}\n`;
}

/** Records that `tree` was just checked out at `commit`, by the host, and handed over. */
export async function markFreshCheckout(tree: string, commit: string): Promise<void> {
  await fs.writeFile(markOf(tree), await markText(tree, commit));
}

/** Removes the mark of `tree`, before anything touches that tree. */
export async function forgetFreshCheckout(tree: string): Promise<void> {
  await fs.rm(markOf(tree), { force: true });
}

/**
 * True when `tree` is a fresh checkout of `commit`; at most once a reset, whatever the mark said:
 * it is moved aside before it is read, so of two steps taking it at once one gets it.
 */
export async function takeFreshCheckout(tree: string, commit: string): Promise<boolean> {
  const taken = `${markOf(tree)}.${randomUUID()}`;
  try {
    await fs.rename(markOf(tree), taken);
  } catch {
    return false;
  }
  try {
    // No tree (removed since) is no fresh checkout: the step resets.
    return (await fs.readFile(taken, 'utf8')) === (await markText(tree, commit).catch(() => undefined));
  } finally {
    await fs.rm(taken, { force: true });
  }
}
