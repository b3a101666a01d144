/**
 * PostgreSQL going away while a worker holds a pooled connection (mid-transaction, between two
 * queries) must not crash the worker: the pool's own error listener covers idle clients only, and
 * an unhandled 'error' on a checked-out client kills the process, every task on it with it. The
 * check runs in a child process, since the failure is the process dying.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { projectRoot } from '../../client/paths';
import { testStack } from '../helpers/stack';

const CHILD = `
const { Client } = require('pg');
const { openDatabase } = require(${JSON.stringify(path.join(projectRoot(), 'lib', 'db', 'client.js'))});
(async () => {
  const database = openDatabase(process.env.URL);
  const held = await database.pool.connect();
  const { rows } = await held.query('SELECT pg_backend_pid() AS pid');
  const admin = new Client({ connectionString: process.env.URL });
  await admin.connect();
  await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
  await admin.end();
  await new Promise((r) => setTimeout(r, 500));
  held.release(true);
  await database.pool.query('SELECT 1');
  await database.close();
  console.log('alive');
})().catch((err) => { console.error(err); process.exit(3); });
`;

describe('a lost database connection', function () {
  this.timeout(30_000);

  it('terminated while checked out leaves the process alive and the pool usable', () => {
    const child = spawnSync(process.execPath, ['-e', CHILD], {
      env: { ...process.env, URL: testStack().databaseUrl },
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.match(child.stdout, /alive/);
  });
});
