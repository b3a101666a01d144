/**
 * What the worker's database role may write: never registrations, grants or approvers. Whoever
 * holds the worker's database credentials cannot register an approver key of its own, point a
 * tenant's repository elsewhere, or grant a CLI role another tenant.
 */
import assert from 'node:assert/strict';
import { Client as PgClient } from 'pg';
import { ensureLoginRole } from '../../db/login-roles';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe("tenants: the worker's role only reads registrations, grants and approvers", function () {
  this.timeout(60_000);
  const role = `worker_${uniqueId('priv').replace('-', '_')}`;
  const tenant = uniqueId('priv');
  let client: PgClient;

  before(async () => {
    const { database, databaseUrl } = testStack();
    await database.pool.query('INSERT INTO repos (tenant_id, name, path) VALUES ($1, $2, $3)', [
      tenant,
      'app',
      '/srv/a',
    ]);
    client = new PgClient({
      connectionString: await ensureLoginRole(database.pool, databaseUrl, role, 'arbiter_worker'),
    });
    await client.connect();
  });

  after(async () => {
    await client.end();
    const { pool } = testStack().database;
    for (const table of ['approvers', 'repos', 'tenant_members'])
      await pool.query(`DELETE FROM ${table} WHERE tenant_id = $1`, [tenant]);
    await pool.query(`DROP OWNED BY "${role}"`);
    await pool.query(`DROP ROLE "${role}"`);
  });

  const attempts: Array<[string, string, unknown[]]> = [
    [
      'register an approver key of its own',
      `INSERT INTO approvers (tenant_id, name, tiers, key_id) VALUES ($1, 'mallory', '[1,2,3]', 'ed25519:${'A'.repeat(43)}=')`,
      [tenant],
    ],
    ['re-point a registered repository', `UPDATE repos SET path = '/etc' WHERE tenant_id = $1`, [tenant]],
    ['grant itself a tenant', `INSERT INTO tenant_members (role_name, tenant_id) VALUES (current_user, $1)`, [tenant]],
  ];
  for (const [what, sql, params] of attempts)
    it(`cannot ${what}`, async () => {
      const outcome = await client.query(sql, params).then(
        (r) => `succeeded (${r.rowCount} row(s))`,
        (err: Error) => err.message,
      );
      assert.match(outcome, /permission denied/, `the worker's role could ${what}`);
    });
});
