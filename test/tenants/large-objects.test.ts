/**
 * A tenant's CLI role cannot fill the database's disk with large objects: every role could create
 * them, no quota bounds them and they outlive the session (found in review: 200 MB in ten seconds
 * from one connection of a role that "may only read"). Migration 0029 takes that from every role.
 */
import assert from 'node:assert/strict';
import { Client as PgClient } from 'pg';
import { ensureLoginRole } from '../../db/login-roles';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';

describe('tenants: no role creates large objects', function () {
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

  for (const call of ["lo_from_bytea(0, '\\x00ff'::bytea)", 'lo_create(0)', 'lo_creat(-1)'])
    it(`a CLI role may not call ${call}`, async () => {
      const outcome = await cli.query(`SELECT ${call}`).then(
        () => 'it created one',
        (err: Error) => err.message,
      );
      assert.match(outcome, /permission denied for function lo_/);
    });

  it('no large object was made', async () => {
    const { rows } = await testStack().database.pool.query(
      `SELECT count(*)::int AS n FROM pg_largeobject_metadata WHERE lomowner = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
      [role],
    );
    assert.equal(rows[0].n, 0);
  });
});
