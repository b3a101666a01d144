/**
 * The embedded server's owner logs in with a random password kept beside its data (0600), never
 * the one once written in the source, which any local user could use on the loopback port as
 * superuser. Data made with that one gets a random password at its next start, its rows kept.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../db/embedded';
import { LEGACY_OWNER_PASSWORD, ownerPasswordFile } from '../../db/owner-password';
import { freePort } from '../helpers/stack';
import { tempDir } from '../helpers/temp';

async function query(url: string, sql: string): Promise<unknown[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The error code PostgreSQL refuses `password` for the owner with, or 'accepted'. */
async function loginAs(password: string, port: number): Promise<string> {
  const client = new Client({ connectionString: `postgres://arbiter:${password}@127.0.0.1:${port}/arbiter` });
  try {
    await client.connect();
    return 'accepted';
  } catch (err) {
    return String((err as { code?: string }).code);
  } finally {
    await client.end().catch(() => undefined);
  }
}

describe('the embedded PostgreSQL owner password', function () {
  this.timeout(120_000);

  it('is random, kept 0600 beside the data, and given to data made with the fixed one, rows kept', async () => {
    const dir = tempDir('arbiter-owner-');
    chmodSync(dir, 0o755); // the embedded server runs as the postgres user when we are root
    const dataDir = path.join(dir, 'pg');
    const port = await freePort();
    let pg: EmbeddedPostgresHandle = await startEmbeddedPostgres({ dataDir, port });
    try {
      const file = ownerPasswordFile(dataDir);
      const first = readFileSync(file, 'utf8').trim();
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(decodeURIComponent(new URL(pg.url).password), first);
      assert.equal(await loginAs(LEGACY_OWNER_PASSWORD, port), '28P01', 'the fixed password is refused');
      assert.equal(await loginAs(encodeURIComponent(first), port), 'accepted');
      await query(pg.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');

      let kept = first;
      for (const keepFile of [false, true]) {
        // Data as an earlier release left it: the fixed password, with or without a kept one beside it.
        await query(pg.url, `ALTER ROLE arbiter PASSWORD '${LEGACY_OWNER_PASSWORD}'`);
        await pg.stop();
        if (!keepFile) rmSync(file);
        pg = await startEmbeddedPostgres({ dataDir, port });
        const now = readFileSync(file, 'utf8').trim();
        assert.equal(now === kept, keepFile, keepFile ? 'the kept password is given' : 'a new one is made');
        kept = now;
        assert.equal(await loginAs(LEGACY_OWNER_PASSWORD, port), '28P01');
        assert.deepEqual(await query(pg.url, 'SELECT v FROM kept'), [{ v: 7 }]);
      }
      await pg.stop();
      // A kept password that is not the data's (the file lost, another made): said so, the server stopped.
      writeFileSync(file, 'not-the-password\n');
      await assert.rejects(
        startEmbeddedPostgres({ dataDir, port }),
        /the owner password kept in \S+pg\.owner-password does not log in to this data/,
      );
      writeFileSync(file, `${kept}\n`);
      pg = await startEmbeddedPostgres({ dataDir, port });
      assert.deepEqual(await query(pg.url, 'SELECT v FROM kept'), [{ v: 7 }], 'the port was free again');
    } finally {
      await pg.stop();
    }
  });
});
