/** The CLI's one way to reach PostgreSQL: DATABASE_URL or the local stack's, migrated, closed after. */
import { openDatabase, type Db } from '../../db/client';
import { migrateDatabase } from '../../db/migrate';
import { loadClientConfig } from '../config';
import { UsageError } from './output';

/** Runs `fn` with a small pool on the configured database. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { databaseUrl } = loadClientConfig();
  if (!databaseUrl) throw new UsageError('no database: set DATABASE_URL, or run `arbiter start` for a local stack');
  const database = openDatabase(databaseUrl, { max: 2 });
  try {
    await migrateDatabase(database.pool);
    return await fn(database.db);
  } finally {
    await database.close();
  }
}
