/**
 * Applies the committed drizzle-kit migrations. Workers call this at start; an advisory lock
 * serialises workers starting at once, and drizzle's journal makes a second run a no-op.
 */
import * as path from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Pool } from 'pg';

/** Arbitrary but fixed key: every Arbiter process contends for the same lock. */
const MIGRATION_LOCK_KEY = 7_242_501_312;

/** `db/migrations` in the source tree, found from both `db/` and the compiled `lib/db/`. */
export function migrationsFolder(): string {
  const fromSource = path.resolve(__dirname, 'migrations');
  const fromCompiled = path.resolve(__dirname, '../../db/migrations');
  return __dirname.includes(`${path.sep}lib${path.sep}`) ? fromCompiled : fromSource;
}

/** Brings the schema up to date; safe to call from any number of processes concurrently. */
export async function migrateDatabase(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await migrate(drizzle(client), { migrationsFolder: migrationsFolder() });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
