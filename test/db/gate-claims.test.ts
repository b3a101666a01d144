/** Claims on a check's run: another holder waits, the holder's retry takes over, a lapsed claim is anyone's. */
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { claimGateRun, releaseGateRun } from '../../db/gate-claims';
import { gateClaims } from '../../db/schema';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('db: gate claims', () => {
  const key = () => ({ tenantId: uniqueId('t'), taskId: uniqueId('task'), treeId: 'a'.repeat(40), name: 'tests' });

  it('refuses another holder, lets the holder take it again, and is released only by its holder', async () => {
    const { db } = testStack().database;
    const k = key();
    assert.equal(await claimGateRun(db, k, 'run/a', 60), true);
    assert.equal(await claimGateRun(db, k, 'run/b', 60), false, 'another activity waits');
    assert.equal(await claimGateRun(db, k, 'run/a', 60), true, "the holder's retry takes it over");
    await releaseGateRun(db, k, 'run/b');
    assert.equal(await claimGateRun(db, k, 'run/b', 60), false, 'released only by its holder');
    await releaseGateRun(db, k, 'run/a');
    assert.equal(await claimGateRun(db, k, 'run/b', 60), true, 'released, anyone may claim it');
    assert.equal(await claimGateRun(db, { ...k, name: 'lint' }, 'run/a', 60), true, 'another check is claimed apart');
  });

  it('a lapsed claim is taken by another holder', async () => {
    const { db } = testStack().database;
    const k = key();
    assert.equal(await claimGateRun(db, k, 'run/lost', 0), true);
    assert.equal(await claimGateRun(db, k, 'run/b', 60), true);
    const [row] = await db.select().from(gateClaims).where(eq(gateClaims.taskId, k.taskId));
    assert.equal(row.holder, 'run/b');
  });
});
