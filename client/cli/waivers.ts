/** `arbiter waivers list | revoke`: a tenant's stored waivers, and taking one back. */
import type { Command } from 'commander';
import { listWaivers, revokeWaiver } from '../../db/waivers';
import { EXIT, printRows } from './output';
import { withDb, withTenantDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

/** Registers the waiver commands on `program`. */
export function registerWaiverCommands(program: Command, run: Run): void {
  const group = program.command('waivers').description('stored waivers (CAWS shape)');
  group
    .command('list')
    .requiredOption('--tenant <tenant>')
    .option('--json')
    .action((o: { tenant: string; json?: boolean }) =>
      run(() =>
        withTenantDb(o.tenant, async (db) => {
          const shown = await listWaivers(db, o.tenant);
          printRows(
            shown,
            o.json,
            (r) =>
              `${r.id}  ${r.status.padEnd(8)} task ${r.taskId ?? '-'}  until ${r.expiresAt.toISOString()}  ${JSON.stringify(r.delta)}`,
          );
          return EXIT.ok;
        }),
      ),
    );
  group
    .command('revoke')
    .argument('<id>')
    .requiredOption('--tenant <tenant>')
    .action((id: string, o: { tenant: string }) =>
      run(() =>
        withDb(async (db) => {
          if (!(await revokeWaiver(db, o.tenant, id))) throw new Error(`no waiver ${id} for tenant ${o.tenant}`);
          process.stdout.write(`${id} revoked: it no longer applies to any budget\n`);
          return EXIT.ok;
        }),
      ),
    );
}
