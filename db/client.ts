/**
 * One pg pool and drizzle instance per process; everything that touches PostgreSQL takes the
 * `Database` it is given, so tests and workers can point at different servers.
 */
import { sql, type SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import { Pool, type PoolClient, type QueryResult } from 'pg';
import { escapeNul } from '../domain/bounds';
import { z } from 'zod';
import * as schema from './schema';

/** The typed drizzle handle used by activities and the CLI. */
export type Db = NodePgDatabase<typeof schema>;

/** The database or an open transaction on it: queries that must run inside a transaction take this. */
export type DbExecutor = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

/** A pool plus its drizzle view; `close` ends the pool. */
export interface Database {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

const dialect = new PgDialect();

/** A value of a {@link namedStatement}'s query, given each time it runs. */
export const value = (name: string) => sql.placeholder(name);

/**
 * `query` (its values as {@link value}s) compiled once, to run as the prepared statement
 * `name`: each connection parses it once and PostgreSQL may keep its plan, where a statement built
 * and sent unnamed is compiled, parsed and planned on every run (for routing's claim, that took
 * longer than running it). `name` must name one statement in the process. A connection keeps the
 * statement until it closes: a migration that changes the type of a column the statement returns
 * needs the workers restarted, and a pooler in front of PostgreSQL must keep prepared statements
 * per server connection (PgBouncer's transaction mode does since 1.21, `max_prepared_statements`).
 */
export function namedStatement<T extends Record<string, unknown> = Record<string, unknown>>(name: string, query: SQL) {
  const compiled = dialect.sqlToQuery(query);
  return (db: DbExecutor, values: Record<string, unknown>): Promise<QueryResult<T>> =>
    db._.session.prepareQuery(compiled, undefined, name, false).execute(values) as Promise<QueryResult<T>>;
}

/**
 * Opens a pool on `url`; connections are made lazily, so this never throws for a down server.
 * `settings` are sent at connection start (`-c name=value`), so every connection of the pool has
 * them before its first query; values must be plain (letters, digits, . _ -).
 */
export function openDatabase(url: string, options: { max?: number; settings?: Record<string, string> } = {}): Database {
  const settings = Object.entries(options.settings ?? {});
  for (const [name, value] of settings)
    if (!/^[A-Za-z0-9._-]+$/.test(`${name}${value}`)) throw new Error(`setting ${name} must be plain`);
  const pool = new Pool({
    connectionString: url,
    max: options.max ?? 10,
    ...(settings.length ? { options: settings.map(([n, v]) => `-c ${n}=${v}`).join(' ') } : {}),
  });
  // A client losing its server must not crash the process; the next query reconnects. The pool's
  // listener covers idle clients only (pg-pool drops it while a client is checked out), so every
  // client gets its own: the query in flight still fails, and is retried as infrastructure.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    storeNulEscaped(client);
  });
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

/**
 * Makes every text parameter of `client`'s queries storable: PostgreSQL's text cannot hold NUL,
 * so a NUL from an agent, a model or a program's output refused the whole write, and the step
 * failed as the host's. One place for every table; a NUL is kept as `\0` (see {@link escapeNul}).
 */
function storeNulEscaped(client: PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const storable = (values: unknown) =>
    Array.isArray(values) ? values.map((v: unknown) => (typeof v === 'string' ? escapeNul(v) : v)) : values;
  (client as { query: unknown }).query = (config: unknown, values?: unknown, callback?: unknown) => {
    const withValues =
      config && typeof config === 'object' && 'values' in config && !('submit' in config)
        ? { ...config, values: storable((config as { values: unknown }).values) }
        : config;
    return query(withValues, storable(values), callback);
  };
}

/** True for a parseable `postgres://` or `postgresql://` URL (what `pg` and libpq accept). */
function isPostgresUrl(url: string): boolean {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(url).protocol);
  } catch {
    return false;
  }
}

/** DATABASE_URL as every process validates it. */
export const DatabaseUrlSchema = z.string().refine(isPostgresUrl, 'DATABASE_URL must be a postgres:// URL');

/** The URL with any password masked, for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    // libpq also takes the password as a query parameter.
    for (const key of ['password', 'sslpassword'])
      if (parsed.searchParams.has(key)) parsed.searchParams.set(key, '***');
    return parsed.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}
