/**
 * `arbiter verdict show TASK` and `arbiter verdict verify TASK|FILE`: the signed verdict as
 * stored, and an offline check of it — signature over the exact bytes, the key it was signed
 * with (pinned to the operator's public key when known), and for a stored verdict its digest.
 * Exit 1 on any mismatch.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { keyIdOf, verifyEnvelope } from '../../host/signing';
import { currentVerdict } from '../../db/verdicts';
import { defaultSigningKeyFile } from '../../workers/worker';
import { loadClientConfig } from '../config';
import { EXIT, printJson, UsageError } from './output';
import { parseTaskArg } from './task-ref';
import { withTenantDb } from './with-db';

async function verdictOf(task: string, tenant: string | undefined) {
  const config = loadClientConfig();
  const ref = parseTaskArg(task, tenant ?? config.defaultTenant);
  const row = await withTenantDb(ref.tenantId, (db) => currentVerdict(db, ref.tenantId, ref.taskId));
  if (!row) throw new Error(`no verdict for task ${ref.tenantId}/${ref.taskId}`);
  return row;
}

function trustedKeyIds(keyFile: string | undefined): string[] {
  const config = loadClientConfig();
  const file = keyFile ?? `${config.signingKeyFile ?? defaultSigningKeyFile(config.home)}.pub`;
  if (!existsSync(file)) {
    if (keyFile) throw new UsageError(`--key '${keyFile}' does not exist`);
    return [];
  }
  return [keyIdOf(createPublicKey(readFileSync(file)))];
}

async function verify(target: string, opts: { key?: string; tenant?: string; json?: boolean }): Promise<number> {
  const fromFile = existsSync(target);
  const row = fromFile ? undefined : await verdictOf(target, opts.tenant);
  const text = fromFile ? readFileSync(target, 'utf8') : row?.envelope;
  if (!text) throw new Error(`task ${target} has a verdict without a signed envelope`);
  const trusted = trustedKeyIds(opts.key);
  const check = verifyEnvelope(text, trusted);
  if (row && check.statementDigest !== row.digest)
    check.problems.push(`stored digest ${row.digest} does not match the envelope's statement ${check.statementDigest}`);
  const predicate = check.statement?.predicate;
  if (row && predicate && (predicate.outcome !== row.outcome || predicate.taskId !== row.taskId))
    check.problems.push('the envelope does not state the stored outcome for this task');
  const ok = check.problems.length === 0;
  const result = {
    ok,
    keyId: check.keyId,
    pinned: trusted.length > 0,
    digest: check.statementDigest,
    outcome: predicate?.outcome,
    taskId: predicate?.taskId,
    problems: check.problems,
  };
  if (opts.json) printJson(result);
  else if (ok)
    process.stdout.write(
      `verdict OK: ${predicate?.outcome} for ${predicate?.tenantId}/${predicate?.taskId}, signed by ${check.keyId}${trusted.length ? ' (trusted key)' : ' (key not pinned: pass --key to check whose it is)'}\n`,
    );
  else process.stderr.write(`verdict INVALID:\n${check.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return ok ? EXIT.ok : EXIT.failed;
}

/** Registers `verdict show|verify` on `program`. */
export function registerVerdictCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const verdict = program.command('verdict').description('signed verdicts');
  verdict
    .command('show')
    .description('the signed verdict of a task (the DSSE envelope, or its statement with --json)')
    .argument('<task>')
    .option('--tenant <tenant>')
    .option('--json', 'the decoded statement and envelope')
    .action((task: string, opts: { tenant?: string; json?: boolean }) =>
      run(async () => {
        const row = await verdictOf(task, opts.tenant);
        if (!row.envelope) throw new Error('this verdict has no signed envelope');
        if (opts.json) {
          const statement = JSON.parse(Buffer.from(JSON.parse(row.envelope).payload, 'base64').toString('utf8'));
          process.stdout.write(
            `${JSON.stringify({ outcome: row.outcome, digest: row.digest, statement, envelope: JSON.parse(row.envelope) }, null, 2)}\n`,
          );
        } else process.stdout.write(row.envelope);
        return EXIT.ok;
      }),
    );
  verdict
    .command('verify')
    .description('check a verdict offline (a task, or a saved envelope file); exit 1 on any mismatch')
    .argument('<task-or-file>')
    .option('--key <file>', "the trusted public key (PEM); default: this installation's signing key")
    .option('--tenant <tenant>')
    .option('--json')
    .action((target: string, opts: { key?: string; tenant?: string; json?: boolean }) =>
      run(() => verify(target, opts)),
    );
}
