/** `arbiter export-training-data`: JSONL of (task features, agent, decision, outcome) on stdout. */
import type { Command } from 'commander';
import { trainingRecords } from '../../db/training-data';
import { EXIT, UsageError } from './output';
import { withTenantDb } from './with-db';

interface ExportOptions {
  since?: string;
  tenant: string;
  includePaths?: boolean;
  includeContents?: boolean;
}

async function exportTrainingData(opts: ExportOptions): Promise<number> {
  const since = opts.since ? new Date(opts.since) : undefined;
  if (since && Number.isNaN(since.getTime()))
    throw new UsageError(`--since '${opts.since}' is not a date (use e.g. 2026-11-01)`);
  return withTenantDb(opts.tenant, async (db) => {
    for await (const record of trainingRecords(db, {
      since,
      tenantId: opts.tenant,
      includePaths: opts.includePaths,
      includeContents: opts.includeContents,
    })) {
      process.stdout.write(`${JSON.stringify(record)}\n`);
    }
    return EXIT.ok;
  });
}

/** Registers `export-training-data` on `program`. */
export function registerExportCommand(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('export-training-data')
    .description('JSONL of task features, agent, routing decision and outcome (no file paths or contents unless asked)')
    .option('--since <date>', 'only tasks finished on or after this date')
    .requiredOption('--tenant <tenant>', 'the tenant whose tasks to export (one at a time: data never mixes tenants)')
    .option('--include-paths', 'add the changed file paths')
    .option('--include-contents', 'add the full patch')
    .action((opts: ExportOptions) => run(() => exportTrainingData(opts)));
}
