/**
 * Migrations against a brand-new database on the real test PostgreSQL: two workers migrating
 * at once, then a third run, must leave exactly one applied copy of every migration.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client, Pool } from 'pg';
import { projectRoot } from '../../client/paths';
import { ensureDatabase } from '../../db/embedded';
import { migrateDatabase, migrationsFolder } from '../../db/migrate';
import { testStack } from '../helpers/stack';

const TABLES = ['tasks', 'task_events', 'agents', 'routing_decisions', 'gate_results', 'waivers', 'verdicts', 'provenance_events', 'artifacts', 'sandbox_events', 'agent_stats', 'agent_outcomes', 'conversations', 'conversation_messages', 'approvers', 'waiver_decisions'];

function journalEntries(): number {
  const journal = JSON.parse(readFileSync(path.join(projectRoot(), 'db', 'migrations', 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

describe('migrateDatabase on a fresh database', function () {
  this.timeout(60_000);
  let url: string;
  let dbName: string;
  const pools: Pool[] = [];

  before(async () => {
    const u = new URL(testStack().databaseUrl);
    dbName = `arbiter_migrate_${process.pid}_${Date.now()}`;
    u.pathname = `/${dbName}`;
    url = u.toString();
    await ensureDatabase(url);
    await ensureDatabase(url); // a second call on an existing database is a no-op
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  });

  function pool(): Pool {
    const p = new Pool({ connectionString: url, max: 3 });
    p.on('error', () => undefined);
    pools.push(p);
    return p;
  }

  it('finds the committed migrations from the compiled code', () => {
    assert.equal(migrationsFolder(), path.join(projectRoot(), 'db', 'migrations'));
    assert.ok(journalEntries() >= 1);
  });

  it('starts with no tables', async () => {
    const { rows } = await pool().query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
    assert.equal(rows[0].n, 0);
  });

  it('migrates from two pools at once and once more, applying every migration exactly once', async () => {
    const a = pool();
    const b = pool();
    await Promise.all([migrateDatabase(a), migrateDatabase(b)]);
    await migrateDatabase(pool());

    const { rows: tables } = await a.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    assert.deepEqual(tables.map((t) => t.table_name), [...TABLES].sort());

    const { rows: cols } = await a.query<{ table_name: string; data_type: string }>(
      `SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
    );
    assert.deepEqual(cols.map((c) => c.table_name), [...TABLES].sort(), 'every table has tenant_id');
    for (const c of cols) assert.equal(c.data_type, 'text', c.table_name);

    const { rows: applied } = await a.query<{ n: number }>(`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
    assert.equal(applied[0].n, journalEntries());
  });

  it('the migration lock is free afterwards', async () => {
    const { rows } = await pool().query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    assert.equal(rows[0].n, 0);
  });

  it('task_events rejects a duplicate (tenant_id, task_id, seq) but not the same seq for another task or tenant', async () => {
    const p = pool();
    const insert = (tenant: string, task: string, seq: number) =>
      p.query(`INSERT INTO task_events (tenant_id, task_id, seq, from_state, to_state, at) VALUES ($1, $2, $3, NULL, 'RECEIVED', now())`, [tenant, task, seq]);
    await insert('t1', 'task-1', 0);
    await assert.rejects(insert('t1', 'task-1', 0), (err: { code?: string; constraint?: string }) => {
      assert.equal(err.code, '23505');
      assert.equal(err.constraint, 'task_events_task_seq_uq');
      return true;
    });
    await insert('t1', 'task-1', 1);
    await insert('t1', 'task-2', 0);
    await insert('t2', 'task-1', 0);
    const { rows } = await p.query(`SELECT count(*)::int AS n FROM task_events`);
    assert.equal(rows[0].n, 4);
  });
});
