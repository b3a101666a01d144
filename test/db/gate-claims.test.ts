/** Claims on a check's run: another taking waits, only the token renews or releases, a lapsed claim is anyone's. */
import assert from 'node:assert/strict';
import { eq } from 'drizzle-orm';
import { claimGateRun, releaseGateRun, renewGateRun } from '../../db/gate-claims';
import { gateClaims } from '../../db/schema';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('db: gate claims', () => {
  const key = () => ({ tenantId: uniqueId('t'), taskId: uniqueId('task'), treeId: 'a'.repeat(40), name: 'tests' });

  it('refuses every other taking, the same activity retried too, until its holder releases it', async () => {
    const { db } = testStack().database;
    const k = key();
    const first = await claimGateRun(db, k, 'run/a#1', 60);
    assert.ok(first);
    assert.equal(await claimGateRun(db, k, 'run/b#1', 60), undefined, 'another activity waits');
    assert.equal(await claimGateRun(db, k, 'run/a#2', 60), undefined, "the activity's next attempt waits too");
    await releaseGateRun(db, k, 'not-the-token');
    assert.equal(await renewGateRun(db, k, 'not-the-token', 60), false);
    assert.equal(await claimGateRun(db, k, 'run/b#1', 60), undefined, 'released and renewed only with its token');
    assert.equal(await renewGateRun(db, k, first, 60), true);
    await releaseGateRun(db, k, first);
    assert.ok(await claimGateRun(db, k, 'run/b#1', 60), 'released, anyone may claim it');
    assert.ok(await claimGateRun(db, { ...k, name: 'lint' }, 'run/a#1', 60), 'another check is claimed apart');
  });

  it('a lapsed claim is taken by another, and its first holder can neither renew nor release it', async () => {
    const { db } = testStack().database;
    const k = key();
    const lost = await claimGateRun(db, k, 'run/lost#1', 0);
    assert.ok(lost);
    const next = await claimGateRun(db, k, 'run/b#1', 60);
    assert.ok(next);
    assert.equal(await renewGateRun(db, k, lost, 60), false);
    await releaseGateRun(db, k, lost);
    const [row] = await db.select().from(gateClaims).where(eq(gateClaims.taskId, k.taskId));
    assert.equal(row.holder, 'run/b#1');
  });
});
