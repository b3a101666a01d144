/**
 * `arbiter calls TASK`: what the task's agents asked of their models through the gateway, and
 * what the gateway refused, read as the task's tenant (row-level security). The bodies stay in
 * PostgreSQL unless asked for: they can be large and hold the repository's code.
 */
import type { Command } from 'commander';
import { and, asc, eq } from 'drizzle-orm';
import { modelCalls, sandboxEvents } from '../../db/schema';
import { loadClientConfig } from '../config';
import { EXIT, printJson, printLine } from './output';
import { parseTaskArg } from './task-ref';
import { withTenantDb } from './with-db';

type Call = typeof modelCalls.$inferSelect;

function callLine(c: Call): string {
  const tokens = `${c.inputTokens} in / ${c.outputTokens} out`;
  return `${c.createdAt.toISOString()}  ${c.purpose.padEnd(12)} ${c.upstream}/${c.path}  ${c.status}  ${c.model ?? '-'}  ${tokens}  $${c.costUsd.toFixed(4)}  ${c.latencyMs} ms`;
}

/** Registers `calls` on `program`. */
export function registerCallsCommand(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('calls')
    .description("the task's model calls through the gateway, and the gateway's refusals")
    .argument('<task>', 'TASK_ID, TENANT/TASK_ID or task/TENANT/TASK_ID')
    .option('--tenant <tenant>', 'tenant of a bare TASK_ID')
    .option('--bodies', 'include request and response bodies (JSON output)')
    .option('--json')
    .action((task: string, opts: { tenant?: string; bodies?: boolean; json?: boolean }) =>
      run(() => {
        const ref = parseTaskArg(task, opts.tenant ?? loadClientConfig().defaultTenant);
        return withTenantDb(ref.tenantId, async (db) => {
          const calls = await db
            .select()
            .from(modelCalls)
            .where(and(eq(modelCalls.tenantId, ref.tenantId), eq(modelCalls.taskId, ref.taskId)))
            .orderBy(asc(modelCalls.id));
          const refusals = await db
            .select()
            .from(sandboxEvents)
            .where(
              and(
                eq(sandboxEvents.tenantId, ref.tenantId),
                eq(sandboxEvents.taskId, ref.taskId),
                eq(sandboxEvents.kind, 'gateway'),
                eq(sandboxEvents.allowed, false),
              ),
            )
            .orderBy(asc(sandboxEvents.id));
          const shown = opts.bodies ? calls : calls.map(({ requestBody: _q, responseBody: _r, ...c }) => c);
          if (opts.json) printJson({ calls: shown, refusals });
          else {
            for (const c of calls) printLine(callLine(c));
            for (const r of refusals) printLine(`REFUSED  ${r.op} ${r.path ?? ''}: ${r.reason ?? ''}`);
            if (!calls.length && !refusals.length) process.stdout.write('no model calls and no refusals\n');
          }
          return EXIT.ok;
        });
      }),
    );
}
