/**
 * `arbiter provenance verify|checkpoint`: walks each tenant's hash chain naming every broken row,
 * and checks it against signed checkpoints (stored, and kept in files) so a chain cut short or
 * rewritten with every hash recomputed is named too.
 */
import type { Command } from 'commander';
import { provenanceTenants } from '../../db/provenance';
import { checkpointTenants, verifyWithCheckpoints, type TenantVerification } from '../../db/provenance-checkpoints';
import { NoTrustedKeyError } from '../../domain/errors';
import { loadClientConfig } from '../config';
import { checkpoint, readCheckpointFiles } from './provenance-checkpoint';
import { trustedKeys, withTrustOptions, type TrustOptions } from './trusted-keys';
import { collect, EXIT, printJson } from './output';
import { withDb } from './with-db';

type VerifyOptions = TrustOptions & { tenant?: string; checkpoint: string[]; json?: boolean };

/**
 * The keys checkpoints must be signed by, as for verdicts; with none trusted the chains are
 * still walked, and every checkpoint is refused with how to trust a key.
 */
function checkpointKeys(opts: VerifyOptions): { keyIds: string[]; note?: string } {
  try {
    return { keyIds: trustedKeys(opts, loadClientConfig()).map((k) => k.keyId) };
  } catch (err) {
    if (err instanceof NoTrustedKeyError) return { keyIds: [], note: err.message };
    throw err;
  }
}

/** `ok t: 5 event(s), checkpoint at seq 4`, saying what a missing or old checkpoint leaves unchecked. */
function summary(r: TenantVerification): string {
  const status = r.problems.length ? 'BROKEN' : 'ok    ';
  const covered =
    r.latestCheckpointSeq === null
      ? 'no checkpoint (truncation and consistent rewrites cannot be detected)'
      : `checkpoint at seq ${r.latestCheckpointSeq}${r.rows - 1 > r.latestCheckpointSeq ? `, ${r.rows - 1 - r.latestCheckpointSeq} event(s) after it not yet covered` : ''}`;
  return `${status} ${r.tenantId}: ${r.rows} event(s), ${covered}\n`;
}

async function verify(opts: VerifyOptions): Promise<number> {
  const trust = checkpointKeys(opts);
  const external = readCheckpointFiles(opts.checkpoint, trust.keyIds);
  return withDb(async (db) => {
    const tenants = opts.tenant
      ? [opts.tenant]
      : [
          ...new Set([
            ...(await provenanceTenants(db)),
            ...(await checkpointTenants(db)),
            ...external.flatMap((e) => (e.tenant ? [e.tenant] : [])),
          ]),
        ].sort();
    const results = [];
    for (const tenantId of tenants) results.push(await verifyWithCheckpoints(db, tenantId, trust.keyIds, external));
    const broken = results.filter((r) => r.problems.length);
    if (trust.note) process.stderr.write(`note: ${trust.note}\n`);
    if (opts.json) printJson(results);
    else {
      for (const r of results) process.stdout.write(summary(r));
      for (const r of broken) for (const p of r.problems) process.stderr.write(`${r.tenantId}: ${p}\n`);
    }
    return broken.length ? EXIT.failed : EXIT.ok;
  });
}

/** Registers `provenance verify` and `provenance checkpoint` on `program`. */
export function registerProvenanceCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const provenance = program.command('provenance').description('the hash-chained provenance log');
  withTrustOptions(provenance.command('verify'))
    .description(
      "check every tenant's chain (or one) and its signed checkpoints; exit 1 naming each altered, removed or " +
        'reordered row, truncated or rewritten chain, and untrusted checkpoint',
    )
    .option('--tenant <tenant>')
    .option('--checkpoint <file>', 'checkpoints kept outside the database (repeatable)', collect, [])
    .option('--json')
    .action((opts: VerifyOptions) => run(() => verify(opts)));
  provenance
    .command('checkpoint')
    .description("sign each chain's head (or one) with the worker's key; refused for a chain that broke since")
    .option('--tenant <tenant>')
    .option('--out <file>', 'also write the signed checkpoints (a JSON array of DSSE envelopes) to keep elsewhere')
    .option('--json')
    .action((opts: { tenant?: string; out?: string; json?: boolean }) => run(() => checkpoint(opts)));
}
