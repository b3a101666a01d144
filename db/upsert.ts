/** Upserts whose new row replaces the old one's values. */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';

/**
 * `ON CONFLICT … DO UPDATE SET` values taking each of `keys` from the row that conflicted
 * (`excluded`): what a multi-row upsert needs, since one `set` object cannot name each row's values.
 */
export function excludedColumns<T extends PgTable>(
  table: T,
  keys: Array<keyof T['$inferInsert'] & string>,
): Record<string, SQL> {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  return Object.fromEntries(keys.map((key) => [key, sql.raw(`excluded."${columns[key].name}"`)]));
}
