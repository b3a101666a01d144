/**
 * A real PostgreSQL refusal in the middle of a step: a trigger that refuses every insert into one
 * table for one tenant, for as long as `act` runs. What a step sees when the database fails it
 * between two of its writes, without mocking the database or the step.
 */
import { getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { testStack } from './stack';

/** Runs `act` while inserts into `table` for `tenantId` fail with `message`. */
export async function withInsertsRefused(
  table: PgTable,
  tenantId: string,
  message: string,
  act: () => Promise<void>,
): Promise<void> {
  const { db } = testStack().database;
  const fn = sql.identifier(`refuse_${getTableName(table)}_${tenantId.replace(/\W/g, '_')}`);
  await db.execute(sql`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.tenant_id = ${sql.raw(`'${tenantId}'`)} THEN RAISE EXCEPTION '${sql.raw(message)}'; END IF; RETURN NEW; END $$`);
  await db.execute(sql`CREATE TRIGGER ${fn} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
  try {
    await act();
  } finally {
    await db.execute(sql`DROP TRIGGER ${fn} ON ${table}`);
    await db.execute(sql`DROP FUNCTION ${fn}()`);
  }
}
