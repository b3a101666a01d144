/** The `list --tenant T [--json]` subcommand every tenant registry has, read as the tenant (row-level security). */
import type { Command } from 'commander';
import type { Db } from '../../db/client';
import { EXIT, printRows } from './output';
import { withTenantDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

/** Adds `list` to `group`: the tenant's rows as `line` prints them, or as JSON. */
export function addTenantList<T>(
  group: Command,
  run: Run,
  rows: (db: Db, tenantId: string) => Promise<T[]>,
  line: (row: T) => string,
): void {
  group
    .command('list')
    .requiredOption('--tenant <tenant>')
    .option('--json')
    .action((o: { tenant: string; json?: boolean }) =>
      run(() =>
        withTenantDb(o.tenant, async (db) => {
          printRows(await rows(db, o.tenant), o.json, line);
          return EXIT.ok;
        }),
      ),
    );
}
