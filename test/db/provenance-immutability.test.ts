/**
 * Provenance rows cannot be changed or removed through SQL: a login role in `arbiter_worker`
 * (what the worker will connect as) may append but is denied UPDATE, DELETE and TRUNCATE by the
 * grants; `arbiter_cli` may only read; and the tables' owner is stopped by the append-only
 * trigger, which only a DBA who disables it first gets past.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Database } from '../../db/client';
import { appendProvenance } from '../../db/provenance';
import { takeCheckpoint } from '../../db/provenance-checkpoints';
import { grantTenant } from '../../db/repos';
import { uniqueId } from '../helpers/fixtures';
import { appendEvents, stackKey } from '../helpers/provenance';
import { testStack } from '../helpers/stack';

const TABLES = ['provenance_events', 'provenance_checkpoints'];

/** A new login role in `group`, connected: as the application would run once 0011 wires the roles in. */
async function loginAs(group: 'arbiter_worker' | 'arbiter_cli'): Promise<{ role: string; database: Database }> {
  const role = `test_${group === 'arbiter_worker' ? 'w' : 'c'}_${randomBytes(4).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await testStack().database.pool.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}' IN ROLE ${group}`);
  const url = new URL(testStack().databaseUrl);
  url.username = role;
  url.password = password;
  return { role, database: openDatabase(url.toString(), { max: 1 }) };
}

const denied = (err: { code?: string; message?: string }) =>
  err.code === '42501' && /permission denied/.test(err.message ?? '');

describe('provenance is append-only in PostgreSQL', function () {
  this.timeout(60_000);
  const logins: Array<{ role: string; database: Database }> = [];
  let tenant: string;

  before(async () => {
    tenant = uniqueId('immutable');
    await appendEvents(tenant, 2);
    assert.ok((await takeCheckpoint(testStack().database.db, stackKey().signer, tenant)).ok);
    logins.push(await loginAs('arbiter_worker'), await loginAs('arbiter_cli'));
  });

  after(async () => {
    for (const { role, database } of logins) {
      await database.close();
      await testStack().database.pool.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('lets a worker role append, and update its other tables', async () => {
    const { database } = logins[0];
    await appendProvenance(database.db, {
      tenantId: tenant,
      eventKey: 'by-worker',
      kind: 'k',
      subject: 's',
      payload: {},
    });
    assert.ok((await takeCheckpoint(database.db, stackKey().signer, tenant)).ok, 'and insert a checkpoint');
    await database.pool.query(`UPDATE tasks SET state = state WHERE tenant_id = $1`, [tenant]);
  });

  it('denies a worker role UPDATE, DELETE and TRUNCATE of provenance rows', async () => {
    const { pool } = logins[0].database;
    for (const table of TABLES) {
      await assert.rejects(pool.query(`UPDATE ${table} SET seq = seq WHERE tenant_id = $1`, [tenant]), denied, table);
      await assert.rejects(pool.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenant]), denied, table);
      await assert.rejects(pool.query(`TRUNCATE ${table}`), denied, table);
    }
  });

  it("lets a CLI role read its granted tenant's provenance but write nothing", async () => {
    await grantTenant(testStack().database.db, logins[1].role, tenant);
    const c = await logins[1].database.pool.connect();
    try {
      await c.query(`SELECT set_config('app.tenant_id', $1, false)`, [tenant]);
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM provenance_events WHERE tenant_id = $1`, [tenant]);
      assert.equal(rows[0].n, 3);
      await assert.rejects(
        c.query(
          `INSERT INTO provenance_events (tenant_id, seq, event_key, kind, subject, payload, prev_hash, hash) VALUES ($1, 99, 'x', 'k', 's', '{}', 'p', 'h')`,
          [tenant],
        ),
        denied,
      );
      await assert.rejects(c.query(`DELETE FROM provenance_events WHERE tenant_id = $1`, [tenant]), denied);
    } finally {
      c.release();
    }
  });

  it("stops the owner's UPDATE, DELETE and TRUNCATE with the append-only trigger", async () => {
    const { pool } = testStack().database;
    for (const table of TABLES) {
      const refused = (op: string) => (err: Error) =>
        new RegExp(`^${op} on ${table} refused: provenance is append-only`).test(err.message);
      await assert.rejects(
        pool.query(`UPDATE ${table} SET seq = seq WHERE tenant_id = $1`, [tenant]),
        refused('UPDATE'),
      );
      await assert.rejects(pool.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenant]), refused('DELETE'));
      await assert.rejects(pool.query(`TRUNCATE ${table}`), refused('TRUNCATE'));
    }
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM provenance_events WHERE tenant_id = $1`, [
      tenant,
    ]);
    assert.equal(rows[0].n, 3, 'every row is still there');
  });
});
