/** `arbiter provenance verify [--tenant T]`: walks each tenant's hash chain and names every broken row. */
import type { Command } from 'commander';
import { provenanceTenants, verifyProvenance } from '../../db/provenance';
import { EXIT, printJson } from './output';
import { withDb } from './with-db';

async function verify(opts: { tenant?: string; json?: boolean }): Promise<number> {
  return withDb(async (db) => {
    const tenants = opts.tenant ? [opts.tenant] : await provenanceTenants(db);
    const results = [];
    for (const tenantId of tenants) results.push({ tenantId, ...(await verifyProvenance(db, tenantId)) });
    const broken = results.filter((r) => r.problems.length);
    if (opts.json) printJson(results);
    else {
      for (const r of results)
        process.stdout.write(`${r.problems.length ? 'BROKEN' : 'ok    '} ${r.tenantId}: ${r.rows} event(s)\n`);
      for (const r of broken) for (const p of r.problems) process.stderr.write(`${r.tenantId}: ${p}\n`);
    }
    return broken.length ? EXIT.failed : EXIT.ok;
  });
}

/** Registers `provenance verify` on `program`. */
export function registerProvenanceCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('provenance')
    .description('the hash-chained provenance log')
    .command('verify')
    .description("check every tenant's chain (or one); exit 1 naming each altered, removed or reordered row")
    .option('--tenant <tenant>')
    .option('--json')
    .action((opts: { tenant?: string; json?: boolean }) => run(() => verify(opts)));
}
