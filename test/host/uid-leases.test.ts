/**
 * Sandbox uid leases on a real filesystem: one uid per holder, the same again for the same holder,
 * released by removing the holder, stale leases taken over, never one uid for two holders — also
 * when a dozen worker processes lease at the same moment — and one-off leases for operator commands.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { runningAsRoot } from '../../host/sandbox/config';
import { heldSandboxUser, LEASE_FILE, leaseSandboxUser, withOneOffSandboxUser } from '../../host/sandbox/uid-leases';
import { SandboxUidNotHeldError, SandboxUidsExhaustedError } from '../../domain/errors';
import { tempDir } from '../helpers/temp';

const FIRST = 1_900_100_000;
const range = (size: number) => ({ first: FIRST, last: FIRST + size - 1 });

describe('sandbox uid leases', function () {
  let home: string;
  const firstPick = (name: string) =>
    createHash('sha256')
      .update(path.join(home, 'workspaces', 'tenant', name))
      .digest()
      .readUInt32BE(0) % 2;
  const holder = (name: string) => {
    const dir = path.join(home, 'workspaces', 'tenant', name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };

  before(function () {
    if (!runningAsRoot()) this.skip(); // not root: commands run as the worker's user and nothing is leased
  });
  beforeEach(() => {
    home = tempDir('arbiter-leases-');
  });

  it('gives each holder its own uid, the same one each time it asks, named in its lease file', async () => {
    const a = holder('a');
    const b = holder('b');
    const ua = await leaseSandboxUser(home, a, range(10));
    const ub = await leaseSandboxUser(home, b, range(10));
    assert.notEqual(ua.uid, ub.uid);
    assert.equal(ua.gid, ua.uid, 'the gid is the uid');
    assert.deepEqual(await leaseSandboxUser(home, a, range(10)), ua, 'asking again gives the same uid');
    assert.deepEqual(await heldSandboxUser(home, a, range(10)), ua);
    assert.match(readFileSync(path.join(a, LEASE_FILE), 'utf8'), new RegExp(`^${ua.uid}\\.\\d+\\n$`));
  });

  it('removing the holder releases its uid; until then the range is exhausted', async () => {
    const a = holder('a');
    const { uid } = await leaseSandboxUser(home, a, range(1));
    const b = holder('b');
    await assert.rejects(leaseSandboxUser(home, b, range(1)), SandboxUidsExhaustedError);
    await assert.rejects(heldSandboxUser(home, b, range(1)), SandboxUidNotHeldError);
    rmSync(a, { recursive: true });
    assert.equal((await leaseSandboxUser(home, b, range(1))).uid, uid, 'the released uid is taken over');
    mkdirSync(a);
    await assert.rejects(heldSandboxUser(home, a, range(1)), SandboxUidNotHeldError, 'the old holder lost it');
  });

  it('a holder re-created at the same path starts at the same uid: its old one, if that was its first pick and is free', async () => {
    const a = holder('a');
    const before = await leaseSandboxUser(home, a, range(50));
    rmSync(a, { recursive: true });
    mkdirSync(a);
    await assert.rejects(heldSandboxUser(home, a, range(50)), SandboxUidNotHeldError, 'a removed holder holds nothing');
    assert.deepEqual(await leaseSandboxUser(home, a, range(50)), before);
  });

  it("a holder whose lease file lost its link's name gets that uid back, not the one its name would pick", async () => {
    // b takes the uid a's path would pick first, so a's uid is the other one of two.
    const a = holder('a');
    const b = holder(Array.from({ length: 64 }, (_, i) => `b${i}`).find((n) => firstPick(n) === firstPick('a'))!);
    const ub = await leaseSandboxUser(home, b, range(2));
    const ua = await leaseSandboxUser(home, a, range(2));
    rmSync(b, { recursive: true });
    // As after a take that lost its race: the file names a lease whose link never came to be.
    writeFileSync(path.join(a, LEASE_FILE), `${ub.uid}.99\n`);
    await assert.rejects(heldSandboxUser(home, a, range(2)), SandboxUidNotHeldError);
    assert.deepEqual(await leaseSandboxUser(home, a, range(2)), ua);
  });

  it('never gives one uid to two holders, with a dozen worker processes leasing at once', async () => {
    const lib = path.resolve(__dirname, '../../host/sandbox/uid-leases.js');
    const startAt = Date.now() + 1500;
    const script = `
      const [lib, home, holder, first, last, startAt] = process.argv.slice(1);
      const { leaseSandboxUser } = require(lib);
      setTimeout(() => leaseSandboxUser(home, holder, { first: +first, last: +last }).then(
        (u) => console.log(u.uid), (e) => console.log('ERR ' + (e.type || e.message))), +startAt - Date.now());`;
    const lease = (h: string, size: number) =>
      promisify(execFile)(process.execPath, [
        '-e',
        script,
        lib,
        home,
        h,
        String(FIRST),
        String(FIRST + size - 1),
        String(startAt),
      ]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => lease(holder(`p${i}`), 8).then((r) => r.stdout.trim())),
    );
    const granted = results.filter((r) => !r.startsWith('ERR'));
    assert.equal(granted.length, 8, `eight of twelve got a uid: ${results.join(', ')}`);
    assert.equal(new Set(granted).size, 8, `no uid twice: ${granted.join(', ')}`);
    assert.deepEqual(
      results.filter((r) => r.startsWith('ERR')),
      Array(4).fill('ERR SandboxUidsExhaustedError'),
    );
  });

  it('a one-off lease lasts for its function only; one left by a dead process is swept', async () => {
    const seen = await withOneOffSandboxUser(home, range(1), async (user) => {
      await assert.rejects(leaseSandboxUser(home, holder('a'), range(1)), SandboxUidsExhaustedError);
      return user.uid;
    });
    assert.equal(seen, FIRST);
    assert.equal((await leaseSandboxUser(home, holder('a'), range(1))).uid, FIRST, 'released when it returned');
    const dead = path.join(home, 'sandbox-uids', 'one-off-999999999-x');
    mkdirSync(dead);
    await withOneOffSandboxUser(home, range(5), async () => undefined);
    assert.equal(existsSync(dead), false, "a dead process's one-off holder is removed");
    assert.ok(!readdirSync(path.join(home, 'sandbox-uids')).some((n) => n.startsWith('one-off-')));
  });
});
