/**
 * Attack: an agent fills a folder with entries and asks for a listing. `list_files` read the
 * whole folder, sorted it and stat'ed every file, however many it returned: a folder of a
 * million entries held the worker's event loop for seconds, and every task on it with it. It now
 * reads no more of a folder than the listing can hold.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Dir, Dirent } from 'node:fs';
import fsp from 'node:fs/promises';
import * as path from 'node:path';
import { OPEN_POLICY, sandboxTask } from './escape-helpers';

const ENTRIES = 20_000;

/** Counts the entries read from folders and the files stat'ed while `work` runs. */
async function counting<T>(work: () => Promise<T>): Promise<{ result: T; read: number; stats: number }> {
  const mod = fsp as { -readonly [K in keyof typeof fsp]: (typeof fsp)[K] };
  const { readdir, opendir, lstat } = mod;
  let read = 0;
  let stats = 0;
  mod.readdir = (async (...args: Parameters<typeof readdir>) => {
    const names = await readdir(...args);
    read += names.length;
    return names;
  }) as typeof readdir;
  mod.opendir = async (...args: Parameters<typeof opendir>) => {
    const dir: Dir = await opendir(...args);
    const next = dir.read.bind(dir) as () => Promise<Dirent | null>;
    const counted = async () => {
      const entry = await next();
      if (entry) read++;
      return entry;
    };
    Object.assign(dir, { read: counted });
    return dir;
  };
  mod.lstat = (async (...args: Parameters<typeof lstat>) => {
    stats++;
    return lstat(...args);
  }) as typeof lstat;
  try {
    return { result: await work(), read, stats };
  } finally {
    Object.assign(mod, { readdir, opendir, lstat });
  }
}

describe('sandbox: list_files on a crowded folder', function () {
  this.timeout(120_000);

  it('reads and stats no more entries than the listing returns', async () => {
    const t = await sandboxTask();
    const crowded = path.join(t.tree, 'crowd');
    mkdirSync(crowded);
    for (let i = 0; i < ENTRIES; i++) writeFileSync(path.join(crowded, `f${i}`), '');
    const call = { tenantId: t.tenantId, taskId: t.taskId, workspacePath: t.tree, policy: OPEN_POLICY };
    const { result, read, stats } = await counting(() => t.tools.listFiles({ ...call, path: 'crowd' }));
    assert.equal(result.entries.length, 1000);
    assert.equal(result.truncated, true);
    assert.ok(result.entries.every((e) => e.path.startsWith('crowd/f') && e.type === 'file'));
    // At least the 1,000 listed: fewer means the counters missed how the listing reads (they would pass at 0).
    assert.ok(read >= 1000 && read <= 1001, `${read} entries of ${ENTRIES} read`);
    assert.ok(stats >= 1000 && stats <= 1001, `${stats} files stat'ed`);
  });
});
