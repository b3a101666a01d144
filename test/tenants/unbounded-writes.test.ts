/**
 * A tenant's CLI role cannot fill the database's disk with large objects, which every role could
 * create, no quota bounds and outlive the session (found in review: 200 MB in ten seconds from one
 * connection of a role that "may only read"), nor with WAL messages (500 MB in ten calls).
 * Migration 0029 takes both from every role.
 */
import assert from 'node:assert/strict';
import { Client as PgClient } from 'pg';
import { ensureLoginRole } from '../../db/login-roles';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('tenants: no role writes what no quota bounds', function () {
  this.timeout(60_000);
  const role = `cli_${uniqueId('lo').replace('-', '_')}`;
  let cli: PgClient;

  before(async () => {
    const { database, databaseUrl } = testStack();
    cli = new PgClient(await ensureLoginRole(database.pool, databaseUrl, role, 'arbiter_cli'));
    await cli.connect();
  });

  after(async () => {
    await cli.end();
    await testStack().database.pool.query(`DROP ROLE "${role}"`);
  });

  for (const call of [
    "lo_from_bytea(0, '\\x00ff'::bytea)",
    'lo_create(0)',
    'lo_creat(-1)',
    "pg_logical_emit_message(false, 'fill', repeat('x', 1000))",
  ])
    it(`a CLI role may not call ${call}`, async () => {
      const outcome = await cli.query(`SELECT ${call}`).then(
        () => 'it wrote',
        (err: Error) => err.message,
      );
      assert.match(outcome, /permission denied for function (lo_|pg_logical_emit_message)/);
    });

  it('no large object was made', async () => {
    const { rows } = await testStack().database.pool.query(
      `SELECT count(*)::int AS n FROM pg_largeobject_metadata WHERE lomowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
      [role],
    );
    assert.equal(rows[0].n, 0);
  });
});
