/**
 * `arbiter verdict show TASK` and `arbiter verdict verify TASK|FILE`: the signed verdict as
 * stored, and an offline check of it — signature over the exact bytes by a key the operator
 * trusts (trusted-keys.ts), a summary that agrees with its evidence, and for a stored verdict
 * its digest (verdict-checks.ts). Exit 1 on any mismatch, or when no key is trusted.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { verdictEvidence } from '../../domain/dsse';
import { verifyEnvelope } from '../../host/signing';
import { currentVerdict } from '../../db/verdicts';
import { loadClientConfig } from '../config';
import { EXIT, printJson } from './output';
import { parseTaskArg } from './task-ref';
import { verdictProblems } from './verdict-checks';
import { trustedKeys, withTrustOptions, type TrustOptions } from './trusted-keys';
import { withTenantDb } from './with-db';

async function verdictOf(task: string, tenant: string | undefined) {
  const config = loadClientConfig();
  const ref = parseTaskArg(task, tenant ?? config.defaultTenant);
  const row = await withTenantDb(ref.tenantId, (db) => currentVerdict(db, ref.tenantId, ref.taskId));
  if (!row) throw new Error(`no verdict for task ${ref.tenantId}/${ref.taskId}`);
  return row;
}

type VerifyOptions = TrustOptions & { tenant?: string; json?: boolean };

async function verify(target: string, opts: VerifyOptions): Promise<number> {
  const trusted = trustedKeys(opts, loadClientConfig());
  const fromFile = existsSync(target);
  const row = fromFile ? undefined : await verdictOf(target, opts.tenant);
  const text = fromFile ? readFileSync(target, 'utf8') : row?.envelope;
  if (!text) throw new Error(`task ${target} has a verdict without a signed envelope`);
  const check = verifyEnvelope(
    text,
    trusted.map((k) => k.keyId),
  );
  const problems = verdictProblems(check, row);
  const summary = check.statement?.predicate;
  const evidence = verdictEvidence(check.statement);
  const trustedBy = trusted.find((k) => k.keyId === check.keyId);
  const result = {
    ok: problems.length === 0,
    keyId: check.keyId,
    trustedKey: trustedBy?.source ?? null,
    digest: check.statementDigest,
    outcome: evidence?.outcome,
    tenantId: evidence?.tenantId,
    taskId: evidence?.taskId,
    verificationResult: summary?.verificationResult,
    verifiedLevels: summary?.verifiedLevels,
    resourceUri: summary?.resourceUri,
    timeVerified: summary?.timeVerified,
    policy: summary?.policy,
    approvedBy: (evidence?.approvals ?? []).map((a) => ({
      approver: a.claim.approver,
      keyId: a.keyId,
      reasonCode: a.claim.reasonCode,
      expiresAt: a.claim.expiresAt,
    })),
    problems,
  };
  if (opts.json) printJson(result);
  else if (result.ok)
    process.stdout.write(
      `verdict OK: ${result.verificationResult} ${result.verifiedLevels?.join(',')} (${result.outcome}) for ` +
        `${result.tenantId}/${result.taskId} at ${result.resourceUri}, signed by ${check.keyId} (trusted: ${result.trustedKey})\n` +
        result.approvedBy
          .map(
            (a) =>
              `  waiver approved by ${a.approver} with ${a.keyId} (${a.reasonCode}, until ${a.expiresAt}): signature valid\n`,
          )
          .join(''),
    );
  else process.stderr.write(`verdict INVALID:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  return result.ok ? EXIT.ok : EXIT.failed;
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
  withTrustOptions(verdict.command('verify'))
    .description(
      'check a verdict offline (a task, or a saved envelope file) against trusted keys only; exit 1 on any mismatch',
    )
    .argument('<task-or-file>')
    .option('--tenant <tenant>')
    .option('--json')
    .action((target: string, opts: VerifyOptions) => run(() => verify(target, opts)));
}
