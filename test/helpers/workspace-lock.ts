/** Holding a workspace's lock from a test, as another attempt would, for as long as the test says. */
import { withWorkspaceLock } from '../../host/workspace-lock';

/** A held lock: `release()` runs `beforeRelease` (still holding it) and lets go; `done` settles then. */
export interface HeldLock {
  release: () => void;
  done: Promise<void>;
}

/** Takes the lock of the workspace at `root` and resolves once it holds it. */
export async function holdWorkspaceLock(root: string, beforeRelease?: () => Promise<void>): Promise<HeldLock> {
  let release!: () => void;
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  const done = withWorkspaceLock(root, new AbortController().signal, async () => {
    held();
    await new Promise<void>((resolve) => (release = resolve));
    await beforeRelease?.();
  });
  await Promise.race([holding, done]); // a lock that could not be taken fails here, not at the test's timeout
  return { release, done };
}
