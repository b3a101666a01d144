/**
 * `arbiter approve | reject` (wrapping the `approveWaiver` / `rejectWaiver` updates) and
 * `arbiter approvers add | list` (who may decide waivers, per tenant and tier).
 */
import { zodProblems } from '../../domain/zod-issues';
import { ZodError } from 'zod';
import type { Command } from 'commander';
import { listApprovers, listWaivers, revokeWaiver, upsertApprover } from '../../db/waivers';
import { ApproveWaiverSchema, RejectWaiverSchema, durationHours } from '../../domain/waiver';
import { ArbiterClient } from '../arbiter-client';
import { loadClientConfig } from '../config';
import { EXIT, printRows, UsageError } from './output';
import { parseTaskArg } from './task-ref';
import { withDb, withTenantDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

async function decide(
  task: string,
  tenant: string | undefined,
  send: (
    client: ArbiterClient,
    ref: ReturnType<typeof parseTaskArg>,
  ) => Promise<{ status: string; approvals: number; approversRequired: number }>,
): Promise<number> {
  const config = loadClientConfig();
  const ref = parseTaskArg(task, tenant ?? config.defaultTenant);
  const client = await ArbiterClient.connect(config.temporal, { taskQueue: config.taskQueue });
  try {
    const result = await send(client, ref);
    process.stdout.write(
      `${ref.tenantId}/${ref.taskId}: waiver ${result.status} (${result.approvals}/${result.approversRequired} approval(s))\n`,
    );
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

function usageFrom<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof ZodError ? zodProblems(err).join('; ') : (err as Error).message);
  }
}

/** Registers the waiver commands on `program`. */
export function registerWaiverCommands(program: Command, run: Run): void {
  program
    .command('approve')
    .description("approve a task's pending waiver")
    .argument('<task>')
    .requiredOption('--approver <name>')
    .requiredOption('--reason-code <code>', 'CAWS reason code, e.g. architectural_refactor')
    .requiredOption('--expires-in <duration>', 'e.g. 72h or 7d')
    .option('--justification <text>')
    .option('--tenant <tenant>')
    .action(
      (
        task: string,
        o: { approver: string; reasonCode: string; expiresIn: string; justification?: string; tenant?: string },
      ) =>
        run(() => {
          const hours = durationHours(o.expiresIn);
          if (hours === undefined)
            throw new UsageError(`--expires-in '${o.expiresIn}' is not a duration like 72h or 7d`);
          const input = usageFrom(() =>
            ApproveWaiverSchema.parse({
              approver: o.approver,
              reasonCode: o.reasonCode,
              justification: o.justification,
              expiresInHours: hours,
            }),
          );
          return decide(task, o.tenant, (c, ref) => c.approveWaiver(ref, input));
        }),
    );
  program
    .command('reject')
    .description("reject a task's pending waiver (the task fails)")
    .argument('<task>')
    .requiredOption('--approver <name>')
    .requiredOption('--reason <text>')
    .option('--tenant <tenant>')
    .action((task: string, o: { approver: string; reason: string; tenant?: string }) =>
      run(() => {
        const input = usageFrom(() => RejectWaiverSchema.parse({ approver: o.approver, reason: o.reason }));
        return decide(task, o.tenant, (c, ref) => c.rejectWaiver(ref, input));
      }),
    );
  const waiverGroup = program.command('waivers').description('stored waivers (CAWS shape)');
  waiverGroup
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
  waiverGroup
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
  const list = (v: string) => v.split(',').map((t) => Number(t.trim()));
  const group = program.command('approvers').description('who may decide waivers');
  group
    .command('add')
    .argument('<name>')
    .requiredOption('--tenant <tenant>')
    .option('--tiers <list>', 'risk tiers this approver may decide (default 1,2,3)', list)
    .action((name: string, o: { tenant: string; tiers?: number[] }) =>
      run(() =>
        withDb(async (db) => {
          const tiers = o.tiers ?? [1, 2, 3];
          if (tiers.some((t) => ![1, 2, 3].includes(t))) throw new UsageError('--tiers takes 1, 2 and/or 3');
          await upsertApprover(db, o.tenant, name, tiers);
          process.stdout.write(`${name} may decide waivers for ${o.tenant} at tier(s) ${tiers.join(', ')}\n`);
          return EXIT.ok;
        }),
      ),
    );
  group
    .command('list')
    .requiredOption('--tenant <tenant>')
    .option('--json')
    .action((o: { tenant: string; json?: boolean }) =>
      run(() =>
        withDb(async (db) => {
          const rows = await listApprovers(db, o.tenant);
          printRows(rows, o.json, (r) => `${r.name}  tiers ${r.tiers.join(',')}`);
          return EXIT.ok;
        }),
      ),
    );
}
