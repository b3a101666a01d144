/**
 * The CLI's one way to reach PostgreSQL, in two kinds of connection. {@link withDb} is the
 * owner's (ARBITER_ADMIN_DATABASE_URL, else DATABASE_URL): migrations, registrations and
 * grants. {@link withTenantDb} is the caller's own role (DATABASE_URL) with `app.tenant_id`
 * set, so row-level security shows one tenant, and only if that role was granted it.
 */
import { openDatabase, type Db } from '../../db/client';
import { migrateDatabase } from '../../db/migrate';
import { IdPartSchema } from '../../domain/task';
import { loadClientConfig } from '../config';
import { UsageError } from './output';

const NO_DATABASE = 'no database: set DATABASE_URL, or run `arbiter start` for a local stack';

/** Runs `fn` with a small pool on the owner's connection, migrated first. */
export async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const { adminDatabaseUrl } = loadClientConfig();
  if (!adminDatabaseUrl) throw new UsageError(NO_DATABASE);
  const database = openDatabase(adminDatabaseUrl, { max: 2 });
  try {
    await migrateDatabase(database.pool);
    return await fn(database.db);
  } finally {
    await database.close();
  }
}

/**
 * Runs `fn` on DATABASE_URL as the tenant `tenantId`: every connection has `app.tenant_id` set
 * before its first query. Never migrates: the caller's role may not own the schema.
 */
export async function withTenantDb<T>(tenantId: string, fn: (db: Db) => Promise<T>): Promise<T> {
  if (!IdPartSchema.safeParse(tenantId).success) throw new UsageError(`'${tenantId}' is not a tenant id`);
  const { databaseUrl } = loadClientConfig();
  if (!databaseUrl) throw new UsageError(NO_DATABASE);
  const database = openDatabase(databaseUrl, { max: 1, settings: { 'app.tenant_id': tenantId } });
  try {
    return await fn(database.db);
  } finally {
    await database.close();
  }
}
