/**
 * A tenant's CLI role cannot take the locks the worker takes: every role could call the
 * pg_advisory_* functions, and the keys are fixed, so holding another tenant's provenance-chain
 * lock (or a shared agent's routing claim, or the migration's) stalled that tenant's steps and
 * then the worker's whole pool. (Found in review.) The worker's role still locks.
 */
import assert from 'node:assert/strict';
import { Client as PgClient } from 'pg';
import { ensureLoginRole } from '../../db/login-roles';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('tenants: advisory locks are the worker’s', function () {
  this.timeout(60_000);
  const roles = { cli: `cli_${uniqueId('adv').replace('-', '_')}`, worker: `wk_${uniqueId('adv').replace('-', '_')}` };
  const clients: Record<string, PgClient> = {};

  before(async () => {
    const { database, databaseUrl } = testStack();
    clients.cli = new PgClient(await ensureLoginRole(database.pool, databaseUrl, roles.cli, 'arbiter_cli'));
    clients.worker = new PgClient(await ensureLoginRole(database.pool, databaseUrl, roles.worker, 'arbiter_worker'));
    await Promise.all(Object.values(clients).map((c) => c.connect()));
  });

  after(async () => {
    await Promise.all(Object.values(clients).map((c) => c.end()));
    for (const role of Object.values(roles)) await testStack().database.pool.query(`DROP ROLE "${role}"`);
  });

  for (const call of [
    "pg_advisory_lock(hashtext('provenance/' || 'another-tenant'))",
    "pg_advisory_xact_lock(724250131, hashtext('shared-agent'))",
    'pg_advisory_lock(7242501312)',
    'pg_try_advisory_lock(1)',
    'pg_advisory_lock_shared(1, 2)',
  ])
    it(`a CLI role may not call ${call}`, async () => {
      const outcome = await clients.cli.query(`SELECT ${call}`).then(
        () => 'it locked',
        (err: Error) => err.message,
      );
      assert.match(outcome, /permission denied for function pg_/);
    });

  it("the worker's role takes and releases its locks", async () => {
    const w = clients.worker;
    await w.query('BEGIN');
    await w.query("SELECT pg_advisory_xact_lock(hashtext('provenance/' || 'a-tenant'))");
    await w.query("SELECT pg_advisory_xact_lock(724250131, hashtext('an-agent'))");
    await w.query('COMMIT');
    const { rows } = await w.query('SELECT pg_try_advisory_lock(7242501312) AS got');
    assert.equal(rows[0].got, true);
    await w.query('SELECT pg_advisory_unlock(7242501312)');
  });
});
