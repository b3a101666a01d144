/** `arbiter waivers list | revoke`: a tenant's stored waivers, and taking one back. */
import type { Command } from 'commander';
import { listWaivers, revokeWaiver } from '../../db/waivers';
import { EXIT } from './output';
import { addTenantList } from './tenant-list';
import { withDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

/** Registers the waiver commands on `program`. */
export function registerWaiverCommands(program: Command, run: Run): void {
  const group = program.command('waivers').description('stored waivers (CAWS shape)');
  addTenantList(
    group,
    run,
    (db, tenant) => listWaivers(db, tenant),
    (r) =>
      `${r.id}  ${r.status.padEnd(8)} task ${r.taskId ?? '-'}  until ${r.expiresAt.toISOString()}  ${JSON.stringify(r.delta)}`,
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
