/**
 * Applies the committed drizzle-kit migrations. Workers call this at start; an advisory lock
 * serialises workers starting at once, and drizzle's journal makes a second run a no-op.
 */
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Pool, PoolClient } from 'pg';

/** Arbitrary but fixed key: every Arbiter process contends for the same lock. */
const MIGRATION_LOCK_KEY = 7_242_501_312;

/** PostgreSQL's `lock_not_available`: a statement gave up waiting for a lock (`lock_timeout`). */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * How a migration waits for the tables it changes. A statement waiting for a table's lock makes
 * every later statement on that table wait behind it, the worker's too, so it waits `lockTimeoutMs`
 * at most; then the whole migration (one transaction) is rolled back, and tried again after
 * `retryMs`, up to `attempts` times. A session of any role that may read a table can hold its lock.
 */
export interface MigrateOptions {
  migrationsFolder?: string;
  lockTimeoutMs?: number;
  retryMs?: number;
  attempts?: number;
}

/** Every attempt of the migration found a table it changes locked by another session. */
export class MigrationBlockedError extends Error {
  constructor(attempts: number, cause: Error) {
    super(
      `the migration found a table it changes locked by another session ${attempts} times (${cause.message}): ` +
        'find the session in pg_locks / pg_stat_activity (a CLI role sitting in a transaction?), end it, and start again',
    );
    this.name = 'MigrationBlockedError';
  }
}

/** `db/migrations` in the source tree, found from both `db/` and the compiled `lib/db/`. */
export function migrationsFolder(): string {
  const fromSource = path.resolve(__dirname, 'migrations');
  const fromCompiled = path.resolve(__dirname, '../../db/migrations');
  return __dirname.includes(`${path.sep}lib${path.sep}`) ? fromCompiled : fromSource;
}

/** Brings the schema up to date; safe to call from any number of processes concurrently. */
export async function migrateDatabase(pool: Pool, options: MigrateOptions = {}): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrateWithoutBlocking(client, options);
    } finally {
      await client.query('RESET lock_timeout');
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function migrateWithoutBlocking(client: PoolClient, options: MigrateOptions): Promise<void> {
  const { lockTimeoutMs = 2_000, retryMs = 8_000, attempts = 90 } = options;
  await client.query(`SET lock_timeout = ${Math.trunc(lockTimeoutMs)}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrate(drizzle(client), { migrationsFolder: options.migrationsFolder ?? migrationsFolder() });
    } catch (err) {
      const blocked = lockNotAvailable(err);
      if (!blocked) throw err;
      if (attempt >= attempts) throw new MigrationBlockedError(attempt, blocked);
      await sleep(retryMs);
    }
  }
}

/** The lock timeout that failed a migration (drizzle wraps the driver's error in `cause`), if that is what failed it. */
function lockNotAvailable(err: unknown): Error | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if ((e as { code?: string }).code === LOCK_NOT_AVAILABLE) return e;
  return undefined;
}
