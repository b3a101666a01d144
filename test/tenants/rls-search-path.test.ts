/**
 * A CLI user of tenant A with its own database login (a member of arbiter_cli) tries to widen
 * row-level security from its own session: the policy's function arbiter_cli_may_read() would
 * resolve `tenant_members` through the caller's search_path, where a temporary table comes
 * first. PUBLIC may not create temporary tables, and the function pins its search_path and
 * qualifies every name: each defence is tested alone.
 */
import assert from 'node:assert/strict';
import { Client as PgClient } from 'pg';
import { ensureLoginRole } from '../../db/login-roles';
import { grantTenant } from '../../db/repos';
import { insertWaiver } from '../../db/waivers';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

async function asRole<T>(url: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('tenants: a CLI role cannot widen row-level security from its own session', function () {
  this.timeout(120_000);
  const role = `cli_${uniqueId('rls').replace('-', '_')}`;
  const [a, b] = [uniqueId('rlsa'), uniqueId('rlsb')];
  let url = '';

  before(async () => {
    const { database, databaseUrl } = testStack();
    for (const tenant of [a, b])
      await insertWaiver(database.db, {
        tenantId: tenant,
        id: `WV-${tenant}`,
        reasonCode: 'other',
        expiresAt: new Date(Date.now() + 86_400_000),
      });
    await database.pool.query('INSERT INTO repos (tenant_id, name, path) VALUES ($1, $2, $3)', [b, 'secret', '/srv/b']);
    url = await ensureLoginRole(database.pool, databaseUrl, role, 'arbiter_cli');
    assert.equal(await grantTenant(database.db, role, a), true);
  });

  after(async () => {
    const { pool } = testStack().database;
    await pool.query('DELETE FROM tenant_members WHERE role_name = $1', [role]);
    await pool.query('DELETE FROM waivers WHERE tenant_id = ANY($1)', [[a, b]]);
    await pool.query('DELETE FROM repos WHERE tenant_id = $1', [b]);
    await pool.query(`DROP OWNED BY "${role}"`);
    await pool.query(`DROP ROLE "${role}"`);
  });

  /** As A's role with `app.tenant_id` naming B: whether a shadow tenant_members could be made, and B's rows seen. */
  async function readBThroughShadow(): Promise<{ shadowed: boolean; seen: unknown[] }> {
    return asRole(url, async (c) => {
      await c.query(`SELECT set_config('app.tenant_id', $1, false)`, [a]);
      const own = await c.query('SELECT id FROM waivers WHERE tenant_id = $1', [a]);
      assert.deepEqual(own.rows, [{ id: `WV-${a}` }], "A's role reads A's rows");
      await c.query(`SELECT set_config('app.tenant_id', $1, false)`, [b]);
      const before = await c.query('SELECT id FROM waivers WHERE tenant_id = $1', [b]);
      assert.equal(before.rowCount, 0, 'B is invisible to begin with');
      const shadowed = await c
        .query('CREATE TEMP TABLE tenant_members (role_name text, tenant_id text)')
        .then(() => c.query('INSERT INTO tenant_members VALUES (current_user, $1)', [b]))
        .then(() => true)
        .catch(() => false);
      const waivers = await c.query('SELECT id FROM waivers WHERE tenant_id = $1', [b]);
      const repos = await c.query('SELECT path FROM repos WHERE tenant_id = $1', [b]);
      return { shadowed, seen: [...waivers.rows, ...repos.rows] };
    });
  }

  it('a CLI role may not create a temporary table, so it cannot make the shadow', async () => {
    assert.deepEqual(await readBThroughShadow(), { shadowed: false, seen: [] });
  });

  it("a shadow tenant_members, where the role may make one, does not grant A's role tenant B", async () => {
    // The second defence alone: the policy's function pins its search_path and qualifies its names.
    const { database, databaseUrl } = testStack();
    const name = new URL(databaseUrl).pathname.slice(1);
    await database.pool.query(`GRANT TEMPORARY ON DATABASE "${name}" TO "${role}"`);
    try {
      assert.deepEqual(await readBThroughShadow(), { shadowed: true, seen: [] });
    } finally {
      await database.pool.query(`REVOKE TEMPORARY ON DATABASE "${name}" FROM "${role}"`);
    }
  });
});
