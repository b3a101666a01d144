/**
 * `arbiter verdict show TASK` and `arbiter verdict verify TASK|FILE`: the signed verdict as
 * stored, and an offline check of it — signature over the exact bytes by a key the operator
 * trusts (trusted-keys.ts), a summary that agrees with its evidence, and for a stored verdict
 * its digest (verdict-checks.ts) and, under `--require-pass`, that it still stands (delivered, its
 * waivers unrevoked). Exit 1 on any mismatch, or when no key is trusted.
 */
import { existsSync } from 'node:fs';
import { readHandedFile } from './handed-file';
import type { Command } from 'commander';
import { verdictEvidence } from '../../domain/dsse';
import { verifyEnvelope } from '../../host/signing';
import { currentVerdict } from '../../db/verdicts';
import { recordedSignatures } from '../../db/waivers';
import type { Db } from '../../db/client';
import { deliveryRecorded } from '../../db/deliveries';
import { storedWaivers, waiversNotStanding } from '../../db/waiver-standing';
import { isCandidateTaskId } from '../../domain/candidates';
import { loadClientConfig } from '../config';
import { EXIT, printJson, UsageError } from './output';
import { parseTaskArg } from './task-ref';
import type { TaskRef } from '../../temporal-config';
import { verdictProblems } from './verdict-checks';
import { trustedKeys, withTrustOptions, type TrustOptions } from './trusted-keys';
import { withTenantDb } from './with-db';
import { GIT_OBJECT_ID, TEMPORAL_RUN_ID } from '../../domain/ids';

type StoredVerdict = NonNullable<Awaited<ReturnType<typeof currentVerdict>>>;

/**
 * Why a stored passing verdict does not stand now, for `--require-pass`: a signed PASS is not yet
 * a delivered one. `deliverChange` judges it again (the policy at the trusted ref's tip, its
 * waivers), and a verdict it refused (a stale policy read) or one whose waiver was revoked since
 * passed here (found in review). A candidate's verdict stands only through its task's delivery.
 */
async function standingProblems(db: Db, ref: TaskRef, row: StoredVerdict): Promise<string[]> {
  if (row.outcome !== 'PASS' && row.outcome !== 'WAIVED') return [];
  const waived = await storedWaivers(db, ref.tenantId, row.payload.waivers ?? []);
  return [...(await deliveryProblems(db, ref, row)), ...(await waiversNotStanding(db, ref.tenantId, waived))];
}

/** Why no delivery of `row` stands: a candidate's verdict is delivered only through its task's. */
async function deliveryProblems(db: Db, ref: TaskRef, row: StoredVerdict): Promise<string[]> {
  if (isCandidateTaskId(ref.taskId))
    return [`a candidate's verdict counts only through its task's delivery: verify the task it is a candidate of`];
  if (await deliveryRecorded(db, ref, row.runId, { verdictDigest: row.digest })) return [];
  return [
    `no delivery of this verdict is recorded for run ${row.runId || '(none)'}: delivery judges it again and did not deliver it`,
  ];
}

/**
 * The task's stored verdict, which of its approvals the tenant's decision record holds (each was
 * checked against the approver's registered key when it was made), and with `requirePass` why it
 * does not stand now.
 */
async function verdictOf(task: string, tenant: string | undefined, requirePass = false) {
  const config = loadClientConfig();
  const ref = parseTaskArg(task, tenant ?? config.defaultTenant);
  const { row, recorded, standing } = await withTenantDb(ref.tenantId, async (db) => {
    const stored = await currentVerdict(db, ref.tenantId, ref.taskId);
    const signatures = (stored?.payload.approvals ?? []).map((a) => a.signature);
    return {
      row: stored,
      recorded: await recordedSignatures(db, ref.tenantId, signatures),
      standing: stored && requirePass ? await standingProblems(db, ref, stored) : [],
    };
  });
  // A saved envelope named as a bare `verdict.json` used to be read as a file: say how to ask for it now.
  const file = existsSync(task) ? `; to check the file ${task}, name it as a path: ./${task}` : '';
  if (!row) throw new Error(`no verdict for task ${ref.tenantId}/${ref.taskId}${file}`);
  return { ...row, ref, recorded, standing };
}

/** Whether Arbiter's decision record vouches for an approval's key: only known for a stored verdict. */
function registry(recorded: Set<string> | undefined, signature: string): 'recorded' | 'not recorded' | 'not checked' {
  if (!recorded) return 'not checked';
  return recorded.has(signature) ? 'recorded' : 'not recorded';
}

type VerifyOptions = TrustOptions & {
  tenant?: string;
  json?: boolean;
  task?: string;
  requirePass?: boolean;
  tree?: string;
  base?: string;
  run?: string;
  repo?: string;
};

/**
 * The change a verdict must cover (`--tree`, `--base`, `--run`), each checked for its form first.
 * Binding a verdict to a change binds it to a repository too: the same change may pass in another
 * of the tenant's repositories, under that one's policy, and be pushed here with its base.
 */
function expectedChange(opts: VerifyOptions) {
  if ((opts.tree || opts.base) && !opts.repo)
    throw new UsageError('--tree and --base need --repo NAME too: the repository the change is merged into');
  for (const [flag, value, form, what] of [
    ['--tree', opts.tree, GIT_OBJECT_ID, 'a full git object id (git rev-parse BRANCH^{tree})'],
    ['--base', opts.base, GIT_OBJECT_ID, 'a full git object id (git rev-parse BRANCH^)'],
    ['--run', opts.run, TEMPORAL_RUN_ID, 'a Temporal run id'],
  ] as const)
    if (value !== undefined && !form.test(value)) throw new UsageError(`${flag} must be ${what}, not '${value}'`);
  return { treeId: opts.tree, baseCommit: opts.base, runId: opts.run };
}

/** Largest verdict file read: a verdict is a few KiB to a few MiB, and a file is anyone's to make. */
const MAX_VERDICT_FILE_BYTES = 16 * 1024 * 1024;

/** The task a verdict file must be the verdict of (`--task`); a stored verdict is its own task's. */
function expectedTask(fromFile: boolean, opts: VerifyOptions): TaskRef | undefined {
  if (fromFile && opts.repo && !opts.task)
    throw new UsageError("--repo needs --task for a verdict file: a repository's name is its tenant's");
  if (fromFile && opts.tenant && !opts.task)
    throw new UsageError('--tenant binds a verdict file only with --task (TASK, or TENANT/TASK)');
  if (!opts.task) return undefined;
  if (!fromFile) throw new UsageError('--task is for a verdict file; a stored verdict is checked against its task');
  return parseTaskArg(opts.task, opts.tenant ?? loadClientConfig().defaultTenant);
}

/**
 * True when the argument names a verdict file: a path (`/`, `./`, `../`). Not merely any name that
 * exists here, nor any `.json` name: a file called `T-1`, or `acme/T-1.json` for a task whose
 * submitter chose the id `T-1.json`, would otherwise stand in for the task's stored verdict.
 */
function namesFile(target: string): boolean {
  return /^\.{0,2}\//.test(target);
}

async function verify(target: string, opts: VerifyOptions): Promise<number> {
  const fromFile = namesFile(target);
  const task = expectedTask(fromFile, opts);
  const change = expectedChange(opts);
  // After the arguments are known good: trusting may pin a key.
  const trusted = trustedKeys(opts, loadClientConfig());
  if (fromFile && !existsSync(target)) throw new UsageError(`no verdict file ${target}`);
  const row = fromFile ? undefined : await verdictOf(target, opts.tenant, opts.requirePass);
  const text = fromFile ? readHandedFile(target, MAX_VERDICT_FILE_BYTES, 'the verdict file') : row?.envelope;
  if (!text) throw new Error(`task ${target} has a verdict without a signed envelope`);
  const envelope = verifyEnvelope(
    text,
    trusted.map((k) => k.keyId),
  );
  // What no trusted key signed is anyone's to write: none of it is read or reported.
  const check = envelope.problems.length ? { ...envelope, statement: undefined } : envelope;
  const expected = { task: row?.ref ?? task, requirePass: opts.requirePass, change, repo: opts.repo };
  const problems = [...verdictProblems(check, row, expected), ...(check.problems.length ? [] : (row?.standing ?? []))];
  const approvals = verdictEvidence(check.statement)?.approvals ?? [];
  for (const a of approvals)
    if (registry(row?.recorded, a.signature) === 'not recorded')
      problems.push(
        `the approval by ${a.claim.approver} with ${a.keyId} is not in the tenant's decision record: no registered key of that approver made it`,
      );
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
    approvedBy: approvals.map((a) => ({
      approver: a.claim.approver,
      keyId: a.keyId,
      reasonCode: a.claim.reasonCode,
      expiresAt: a.claim.expiresAt,
      registry: registry(row?.recorded, a.signature),
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
              `  waiver approved by ${a.approver} with ${a.keyId} (${a.reasonCode}, until ${a.expiresAt}): signature valid, ` +
              (a.registry === 'recorded'
                ? "the registered key when it decided (the tenant's decision record)\n"
                : 'key not checked against the approver registry (verify the task, not a file, for that)\n'),
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
      'check a verdict offline (a task, or a saved envelope file given as a path: /, ./ or ../) against trusted keys only; exit 1 on any mismatch',
    )
    .argument('<task-or-file>')
    .option('--tenant <tenant>')
    .option('--task <task>', "a verdict file must be this task's (TENANT/TASK, or TASK with --tenant)")
    .option(
      '--require-pass',
      'exit 1 unless the outcome is PASS or WAIVED (a genuine FAIL verifies otherwise) and, for a task, Arbiter delivered it and its waivers still stand',
    )
    .option(
      '--tree <oid>',
      "exit 1 unless the verdict covers this git tree (the change's: git rev-parse BRANCH^{tree})",
    )
    .option('--base <oid>', 'exit 1 unless the change was made on this commit (git rev-parse BRANCH^)')
    .option('--run <run-id>', 'exit 1 unless the verdict is of this workflow run')
    .option(
      '--repo <name>',
      'exit 1 unless the verdict is about this repository (its registered name; needed with --tree and --base)',
    )
    .option('--json')
    .action((target: string, opts: VerifyOptions) => run(() => verify(target, opts)));
}
