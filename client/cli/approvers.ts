/**
 * `arbiter approvers add | revoke | list`: who may decide a tenant's waivers, at which tiers,
 * with which public key. A change is announced to the tenant's waiting tasks, so a waiver
 * already pending judges by the keys registered now.
 */
import type { Command } from 'commander';
import { listApprovers, revokeApprover, upsertApprover } from '../../db/waivers';
import { KeyFormatError } from '../../domain/errors';
import { printable } from '../../domain/printable';
import { ArbiterClient } from '../arbiter-client';
import { keyIdOfPublicKeyFile } from '../approvals';
import { loadClientConfig } from '../config';
import { EXIT, UsageError } from './output';
import { addTenantList } from './tenant-list';
import { withDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

/** Best effort: a task that misses the signal still re-checks the key in PostgreSQL before counting it. */
async function announce(tenantId: string): Promise<void> {
  const config = loadClientConfig();
  try {
    const client = await ArbiterClient.connect(config.temporal, { taskQueue: config.taskQueue });
    try {
      const { told, missed } = await client.announceApproversChanged(tenantId);
      if (told.length) process.stdout.write(`told ${told.length} waiting task(s) to re-read the approvers\n`);
      if (missed.length)
        process.stderr.write(
          `note: ${missed.length} waiting task(s) were not told (${missed.map(printable).join(', ')}: the signal was refused or failed); ` +
            'their waivers are still checked against the approvers registered when stored\n',
        );
    } finally {
      await client.close();
    }
  } catch (err) {
    process.stderr.write(`note: waiting tasks were not told (${(err as Error).message})\n`);
  }
}

function registeredKeyId(file: string): string {
  try {
    return keyIdOfPublicKeyFile(file);
  } catch (err) {
    throw err instanceof KeyFormatError ? new UsageError(err.message) : err;
  }
}

/** Registers the approver commands on `program`. */
export function registerApproverCommands(program: Command, run: Run): void {
  const tiersOf = (v: string) => v.split(',').map((t) => Number(t.trim()));
  const group = program.command('approvers').description('who may decide waivers, and with which key');
  group
    .command('add')
    .description('register (or re-key) an approver: only signatures by this public key count as theirs')
    .argument('<name>')
    .requiredOption('--tenant <tenant>')
    .requiredOption('--key <file>', 'ed25519 public key: an OpenSSH .pub line (ssh-ed25519 …) or PEM')
    .option('--tiers <list>', 'risk tiers this approver may decide (default 1,2,3)', tiersOf)
    .action((name: string, o: { tenant: string; key: string; tiers?: number[] }) =>
      run(async () => {
        const tiers = o.tiers ?? [1, 2, 3];
        if (tiers.some((t) => ![1, 2, 3].includes(t))) throw new UsageError('--tiers takes 1, 2 and/or 3');
        const keyId = registeredKeyId(o.key);
        await withDb(async (db) => {
          try {
            await upsertApprover(db, { tenantId: o.tenant, name, tiers, keyId });
          } catch (err) {
            if (/approvers_tenant_key_uq/.test(String((err as { cause?: unknown }).cause ?? err)))
              throw new UsageError(`${keyId} is already registered to another approver of ${o.tenant}`);
            throw err;
          }
        });
        process.stdout.write(
          `${name} may decide waivers for ${o.tenant} at tier(s) ${tiers.join(', ')} with ${keyId}\n`,
        );
        await announce(o.tenant);
        return EXIT.ok;
      }),
    );
  group
    .command('revoke')
    .description('revoke an approver: their key stops counting, also for waivers already pending')
    .argument('<name>')
    .requiredOption('--tenant <tenant>')
    .action((name: string, o: { tenant: string }) =>
      run(async () => {
        if (!(await withDb((db) => revokeApprover(db, o.tenant, name))))
          throw new Error(`no approver ${name} for tenant ${o.tenant}`);
        process.stdout.write(`${name} revoked for ${o.tenant}\n`);
        await announce(o.tenant);
        return EXIT.ok;
      }),
    );
  addTenantList(
    group,
    run,
    listApprovers,
    (r) => `${r.name}  tiers ${r.tiers.join(',')}  ${r.keyId ?? '(no key: cannot decide)'}`,
  );
}
