/**
 * Migrations against a brand-new database on the real test PostgreSQL: two workers migrating
 * at once, then a third run, must leave exactly one applied copy of every migration. Run scoping
 * also applies to a database that already holds tasks from before it.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { Client, Pool } from 'pg';
import { projectRoot } from '../../client/paths';
import { ensureDatabase } from '../../db/embedded';
import { migrateDatabase, migrationsFolder } from '../../db/migrate';
import { testStack } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

const TABLES = [
  'tasks',
  'task_events',
  'agents',
  'routing_decisions',
  'run_policies',
  'gate_results',
  'gate_claims',
  'waivers',
  'verdicts',
  'provenance_events',
  'provenance_checkpoints',
  'artifacts',
  'sandbox_events',
  'agent_stats',
  'agent_circuits',
  'agent_context_stats',
  'agent_outcomes',
  'agent_health_reports',
  'conversations',
  'conversation_messages',
  'model_calls',
  'approvers',
  'waiver_decisions',
  'repos',
  'tenant_members',
];

type Journal = { entries: Array<{ tag: string }> };

function journal(): Journal {
  return JSON.parse(
    readFileSync(path.join(projectRoot(), 'db', 'migrations', 'meta', '_journal.json'), 'utf8'),
  ) as Journal;
}

function journalEntries(): number {
  return journal().entries.length;
}

/** A migrations folder holding the committed migrations before `tag`: the schema as an older release left it. */
function migrationsBefore(tag: string): string {
  const dir = tempDir('arbiter-migrations-');
  const { entries, ...rest } = journal();
  const older = entries.slice(
    0,
    entries.findIndex((e) => e.tag === tag),
  );
  mkdirSync(path.join(dir, 'meta'));
  writeFileSync(path.join(dir, 'meta', '_journal.json'), JSON.stringify({ ...rest, entries: older }));
  for (const e of older) copyFileSync(path.join(migrationsFolder(), `${e.tag}.sql`), path.join(dir, `${e.tag}.sql`));
  return dir;
}

/** A new, empty database on the test server, and how to drop it. */
async function scratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const u = new URL(testStack().databaseUrl);
  const dbName = `${prefix}_${process.pid}_${Date.now()}`;
  u.pathname = `/${dbName}`;
  const url = u.toString();
  await ensureDatabase(url);
  const drop = async () => {
    const admin = new URL(url);
    admin.pathname = '/postgres';
    const client = new Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  };
  return { url, drop };
}

describe('migrateDatabase on a fresh database', function () {
  this.timeout(60_000);
  let url: string;
  let drop: () => Promise<void>;
  const pools: Pool[] = [];

  before(async () => {
    ({ url, drop } = await scratchDatabase('arbiter_migrate'));
    await ensureDatabase(url); // a second call on an existing database is a no-op
  });

  after(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await drop();
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
    const { rows } = await pool().query(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`,
    );
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
    assert.deepEqual(
      tables.map((t) => t.table_name),
      [...TABLES].sort(),
    );

    const { rows: cols } = await a.query<{ table_name: string; data_type: string }>(
      `SELECT table_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
    );
    assert.deepEqual(
      cols.map((c) => c.table_name),
      [...TABLES].sort(),
      'every table has tenant_id',
    );
    for (const c of cols) assert.equal(c.data_type, 'text', c.table_name);

    const { rows: applied } = await a.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
    );
    assert.equal(applied[0].n, journalEntries());
  });

  it('the migration lock is free afterwards', async () => {
    const { rows } = await pool().query(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    assert.equal(rows[0].n, 0);
  });

  it('task_events rejects a duplicate (tenant_id, task_id, run_id, seq) but not the same seq for another run, task or tenant', async () => {
    const p = pool();
    const insert = (tenant: string, task: string, run: string, seq: number) =>
      p.query(
        `INSERT INTO task_events (tenant_id, task_id, run_id, seq, from_state, to_state, at) VALUES ($1, $2, $3, $4, NULL, 'RECEIVED', now())`,
        [tenant, task, run, seq],
      );
    await insert('t1', 'task-1', 'run-a', 0);
    await assert.rejects(insert('t1', 'task-1', 'run-a', 0), (err: { code?: string; constraint?: string }) => {
      assert.equal(err.code, '23505');
      assert.equal(err.constraint, 'task_events_run_seq_uq');
      return true;
    });
    await insert('t1', 'task-1', 'run-a', 1);
    await insert('t1', 'task-1', 'run-b', 0);
    await insert('t1', 'task-2', 'run-a', 0);
    await insert('t2', 'task-1', 'run-a', 0);
    const { rows } = await p.query(`SELECT count(*)::int AS n FROM task_events`);
    assert.equal(rows[0].n, 5);
  });

  it('verdicts and routing decisions are unique per run, not per task', async () => {
    const p = pool();
    const verdict = (id: string, run: string) =>
      p.query(
        `INSERT INTO verdicts (id, tenant_id, task_id, run_id, outcome, digest, payload) VALUES ($1, 't1', 'task-v', $2, 'PASS', 'sha256:x', '{}')`,
        [id, run],
      );
    await verdict('v1', 'run-a');
    await verdict('v2', 'run-b');
    await assert.rejects(
      verdict('v3', 'run-a'),
      (err: { constraint?: string }) => err.constraint === 'verdicts_run_uq',
    );
    const decision = (run: string) =>
      p.query(
        `INSERT INTO routing_decisions (tenant_id, task_id, run_id, agent_id, task_type, reason, candidates) VALUES ('t1', 'task-v', $1, 'a', 'feature', 'r', '[]')`,
        [run],
      );
    await decision('run-a');
    await decision('run-b');
    await assert.rejects(
      decision('run-a'),
      (err: { constraint?: string }) => err.constraint === 'routing_decisions_run_uq',
    );
  });
});

describe('run-scoping migration on a database that already holds tasks', function () {
  this.timeout(60_000);
  let drop: () => Promise<void>;
  let p: Pool;

  before(async () => {
    const db = await scratchDatabase('arbiter_populated');
    drop = db.drop;
    p = new Pool({ connectionString: db.url, max: 2 });
    p.on('error', () => undefined);
  });

  after(async () => {
    await p.end().catch(() => undefined);
    await drop();
  });

  it("keeps every earlier row, gives it run_id '' and applies the per-run keys", async () => {
    const older = migrationsBefore('0008_run_scoped_records');
    const client = await p.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: older });
    } finally {
      client.release();
    }
    await p.query(
      `INSERT INTO tasks (tenant_id, id, workflow_id, state, last_seq) VALUES ('t1', 'old', 'task/t1/old', 'COMPLETED', 9)`,
    );
    await p.query(
      `INSERT INTO task_events (tenant_id, task_id, seq, to_state, at) VALUES ('t1', 'old', 0, 'RECEIVED', now())`,
    );
    await p.query(
      `INSERT INTO verdicts (id, tenant_id, task_id, outcome, digest, payload) VALUES ('v-old', 't1', 'old', 'PASS', 'sha256:old', '{}')`,
    );
    await p.query(
      `INSERT INTO routing_decisions (tenant_id, task_id, agent_id, task_type, reason, candidates) VALUES ('t1', 'old', 'a', 'feature', 'r', '[]')`,
    );
    await p.query(
      `INSERT INTO agent_outcomes (tenant_id, task_id, agent_id, task_type, outcome, reward, latency_ms) VALUES ('t1', 'old', 'a', 'feature', 'PASS', 1, 10)`,
    );

    await migrateDatabase(p);

    for (const table of ['tasks', 'task_events', 'verdicts', 'routing_decisions', 'agent_outcomes']) {
      const { rows } = await p.query(`SELECT run_id FROM ${table}`);
      assert.deepEqual(rows, [{ run_id: '' }], table);
    }
    // The task's old verdict no longer stands in for a new run's: another run may have its own.
    await p.query(
      `INSERT INTO verdicts (id, tenant_id, task_id, run_id, outcome, digest, payload) VALUES ('v-new', 't1', 'old', 'run-b', 'FAIL', 'sha256:new', '{}')`,
    );
    const { rows: applied } = await p.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`,
    );
    assert.equal(applied[0].n, journalEntries());
  });
});

// Found in review: a CLI role may read a table in a transaction it leaves open; a migration's ALTER
// then waited behind it, and every statement of the worker's on that table waited behind the ALTER.
describe('a migration finding a table locked by another session', function () {
  this.timeout(120_000);
  let drop: () => Promise<void>;
  let p: Pool;

  before(async () => {
    const db = await scratchDatabase('arbiter_locked');
    drop = db.drop;
    p = new Pool({ connectionString: db.url, max: 4 });
    p.on('error', () => undefined);
  });

  after(async () => {
    await p.end().catch(() => undefined);
    await drop();
  });

  it("gives way to the worker's statements, and finishes once the lock is gone", async () => {
    await migrateDatabase(p, { migrationsFolder: migrationsBefore('0028_tenant_circuits') });
    const reader = await p.connect();
    await reader.query('BEGIN');
    await reader.query('SELECT count(*) FROM agents');
    let migrated = false;
    const migration = migrateDatabase(p, { lockTimeoutMs: 200, retryMs: 300 }).then(() => (migrated = true));
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      const worker = await p.connect();
      try {
        await worker.query('SET statement_timeout = 20000');
        const { rows } = await worker.query<{ n: number }>('SELECT count(*)::int AS n FROM agents');
        assert.deepEqual(rows, [{ n: 0 }], "the worker's read is answered while the migration waits");
      } finally {
        worker.release();
      }
      assert.equal(migrated, false, 'the migration waits for the lock');
    } finally {
      await reader.query('COMMIT');
      reader.release();
    }
    await migration;
    const { rows } = await p.query(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'agents' AND column_name = 'circuit_open_until'`,
    );
    assert.deepEqual(rows, [], 'the migration ran');
  });

  it('gives up after its attempts with an error saying what blocks it', async () => {
    const dir = migrationsBefore('0029_unbounded_writes');
    await p.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA drizzle CASCADE');
    await migrateDatabase(p, { migrationsFolder: migrationsBefore('0028_tenant_circuits') });
    const reader = await p.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM agents');
      await assert.rejects(
        migrateDatabase(p, { migrationsFolder: dir, lockTimeoutMs: 100, retryMs: 100, attempts: 3 }),
        (err: Error) =>
          err.name === 'MigrationBlockedError' && /locked by another session 3 times .*a CLI role/.test(err.message),
      );
    } finally {
      await reader.query('ROLLBACK');
      reader.release();
    }
  });
});
