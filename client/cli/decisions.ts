/**
 * `arbiter approve | reject TASK`: reads the task's pending waiver request, signs a decision over
 * it with the approver's key (`--key FILE`, or their ssh-agent) and sends it as the
 * `approveWaiver` / `rejectWaiver` update — or, with `--print`, writes the signed decision for
 * `temporal workflow update execute --input` to carry.
 */
import type { Command } from 'commander';
import { ZodError } from 'zod';
import { durationHours } from '../../domain/waiver';
import { zodProblems } from '../../domain/zod-issues';
import { KeyFormatError } from '../../domain/errors';
import { ArbiterClient } from '../arbiter-client';
import type { WaiverClaim } from '../../domain/approval';
import { decisionClaim, resolveSigner, signDecision, type DecisionTerms } from '../approvals';
import { loadClientConfig } from '../config';
import { EXIT, UsageError } from './output';
import { parseTaskArg } from './task-ref';
import { assertTaskVisible } from './recorded-task';

type Run = (fn: () => Promise<number>) => Promise<void>;

/** How long a signed rejection stays acceptable: long enough to send, too short to keep for later. */
const REJECTION_VALID_MS = 3_600_000;

interface DecisionOptions {
  approver: string;
  key?: string;
  tenant?: string;
  print?: boolean;
  expectTree?: string;
}

/** Signs `terms` over the task's pending request and sends (or prints) the decision. */
async function decide(task: string, o: DecisionOptions, terms: (now: number) => DecisionTerms): Promise<number> {
  const config = loadClientConfig();
  const ref = parseTaskArg(task, o.tenant ?? config.defaultTenant);
  const client = await ArbiterClient.connect(config.temporal, { taskQueue: config.taskQueue });
  try {
    await assertTaskVisible(ref);
    const { pendingWaiver } = await client.status(ref);
    if (!pendingWaiver) throw new Error(`task ${ref.tenantId}/${ref.taskId} has no pending waiver`);
    // The request is read again now, from whatever run answers: the tree `status` showed pins it.
    if (o.expectTree !== undefined && pendingWaiver.treeId !== o.expectTree)
      throw new Error(
        `task ${ref.tenantId}/${ref.taskId}: the pending request is for tree ${pendingWaiver.treeId}, not ${o.expectTree}: not signing`,
      );
    const signer = await resolveSigner(o.key, config.sshAuthSock).catch((err: Error) => {
      throw err instanceof KeyFormatError ? new UsageError(err.message) : err;
    });
    const claim = usageFrom(() => decisionClaim(ref, pendingWaiver, terms(Date.now())));
    const signed = await signDecision(claim, signer);
    if (o.print) {
      process.stdout.write(`${JSON.stringify(signed)}\n`);
      return EXIT.ok;
    }
    const result = await client.decideWaiver(ref, signed);
    process.stdout.write(
      `${ref.tenantId}/${ref.taskId}: ${signedTerms(claim)}\n` +
        `${ref.tenantId}/${ref.taskId}: waiver ${result.status} (${result.approvals}/${result.approversRequired} approval(s)), signed by ${signer.keyId}\n`,
    );
    return EXIT.ok;
  } finally {
    await client.close();
  }
}

/**
 * What the decision says, from the signed claim itself: an approver sees what their key signed,
 * not only what `status` showed them before (which the task's records, and so its agent, word).
 */
function signedTerms(claim: WaiverClaim): string {
  const { delta } = claim;
  const request = `a waiver of ${claim.gates.join(', ')} for +${delta.maxFiles} file(s) and +${delta.maxLoc} line(s) over the budget, for tree ${claim.treeId} of run ${claim.runId}`;
  return claim.decision === 'approve'
    ? `approved ${request}, until ${claim.expiresAt}`
    : `rejected ${request} (the signed rejection is accepted until ${claim.expiresAt})`;
}

function usageFrom<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError(err instanceof ZodError ? zodProblems(err).join('; ') : (err as Error).message);
  }
}

const withCommon = (c: Command) =>
  c
    .argument('<task>')
    .requiredOption('--approver <name>', 'your registered approver name')
    .option('--key <file>', 'your private key (OpenSSH or PEM), or the .pub of a key your ssh-agent holds')
    .option('--tenant <tenant>')
    .option('--print', 'print the signed decision (for temporal workflow update execute --input) instead of sending it')
    .option('--expect-tree <oid>', 'sign only if the request is for this tree (the one `arbiter status` showed)');

/** Registers `approve` and `reject` on `program`. */
export function registerDecisionCommands(program: Command, run: Run): void {
  withCommon(program.command('approve').description("sign and send an approval of a task's pending waiver"))
    .requiredOption('--reason-code <code>', 'CAWS reason code, e.g. architectural_refactor')
    .requiredOption('--expires-in <duration>', 'how long the waiver applies, e.g. 72h or 7d')
    .option('--justification <text>')
    .action((task: string, o: DecisionOptions & { reasonCode: string; expiresIn: string; justification?: string }) =>
      run(() => {
        const hours = durationHours(o.expiresIn);
        if (hours === undefined) throw new UsageError(`--expires-in '${o.expiresIn}' is not a duration like 72h or 7d`);
        return decide(task, o, (now) => ({
          decision: 'approve',
          approver: o.approver,
          reasonCode: o.reasonCode,
          justification: o.justification,
          expiresAt: new Date(now + hours * 3_600_000).toISOString(),
        }));
      }),
    );
  withCommon(program.command('reject').description("sign and send a rejection of a task's pending waiver (it fails)"))
    .requiredOption('--reason <text>')
    .action((task: string, o: DecisionOptions & { reason: string }) =>
      run(() =>
        decide(task, o, (now) => ({
          decision: 'reject',
          approver: o.approver,
          reason: o.reason,
          expiresAt: new Date(now + REJECTION_VALID_MS).toISOString(),
        })),
      ),
    );
}
