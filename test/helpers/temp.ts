/**
 * Temporary folders that tests create, removed when the run ends (the root hooks call
 * `removeTempDirs` in their afterAll), so a run leaves nothing `arbiter-*` in the temp dir.
 * This module imports nothing of the stack, so pure suites can use it without starting one.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const created: string[] = [];

/** A fresh folder `<tmpdir>/<prefix>XXXXXX`, registered for removal at the end of the run. */
export function tempDir(prefix = 'arbiter-test-'): string {
  return trackTempDir(mkdtempSync(path.join(os.tmpdir(), prefix)));
}

/** A {@link tempDir} the sandbox user can traverse (mkdtemp makes them owner-only): a worker's ARBITER_HOME. */
export function traversableTempDir(prefix: string): string {
  const dir = tempDir(prefix);
  chmodSync(dir, 0o711);
  return dir;
}

/** Registers a folder made elsewhere (e.g. by the code under test) for removal at the end of the run. */
export function trackTempDir(dir: string): string {
  created.push(dir);
  return dir;
}

/** Removes every registered folder (best effort: one that cannot be removed is skipped). */
export function removeTempDirs(): void {
  for (const dir of created.splice(0).reverse()) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // a folder still in use or not ours to remove: leave it
    }
  }
}

/** Mocha root hooks for a run of pure suites (no stack): removes the registered folders at the end. */
export const pureHooks = {
  afterAll(): void {
    removeTempDirs();
  },
};
