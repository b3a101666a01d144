/** `arbiter submit | status | watch | cancel`: thin wrappers over {@link ArbiterClient}. */
import { startTracing } from '../../host/tracing';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { isTerminal } from '../../domain/lifecycle';
import type { GateCommand, TaskInput } from '../../domain/task';
import { ArbiterClient, type Submission } from '../arbiter-client';
import { loadClientConfig } from '../config';
import { EXIT, printJson, printLine, printNewTransitions, statusJson, statusText, UsageError } from './output';
import { findRepo } from '../../db/repos';
import { withTenantDb } from './with-db';
import { heldToRecord, visibleTask } from './recorded-task';

/** Splits a command line on whitespace, honouring single and double quotes; no shell involved. */
export function splitArgs(line: string): string[] {
  const args: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) args.push(m[1] ?? m[2] ?? m[3]);
  return args;
}

/** `NAME=COMMAND ARGS…` into a gate command. */
export function parseGateOption(value: string, previous: GateCommand[] = []): GateCommand[] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`--gate '${value}': expected NAME=COMMAND [ARGS…]`);
  const argv = splitArgs(value.slice(eq + 1));
  if (argv.length === 0) throw new UsageError(`--gate '${value}': the command is empty`);
  return [...previous, { name: value.slice(0, eq), argv, timeoutSeconds: 600 }];
}

async function withClient<T>(
  fn: (client: ArbiterClient, config: ReturnType<typeof loadClientConfig>) => Promise<T>,
): Promise<T> {
  const config = loadClientConfig();
  const tracing = startTracing(config.tracing);
  try {
    const client = await ArbiterClient.connect(config.temporal, { taskQueue: config.taskQueue });
    try {
      return await fn(client, config);
    } finally {
      await client.close();
    }
  } finally {
    await tracing?.shutdown();
  }
}

function defaultTaskId(specYaml: string): string {
  const id = /^id:\s*['"]?([A-Za-z0-9._-]+)/m.exec(specYaml)?.[1]?.toLowerCase() ?? 'task';
  return `${id.slice(0, 80)}-${randomBytes(3).toString('hex')}`;
}

interface SubmitOptions {
  repo: string;
  tenant?: string;
  taskId?: string;
  agent?: string;
  base?: string;
  gate?: GateCommand[];
  candidates?: string;
  firstPass?: boolean;
  language?: string;
  wait?: boolean;
  json?: boolean;
}

/** `--candidates N` as a number; the task input's own check names a number out of range. */
function candidatesOption(opts: SubmitOptions): Pick<TaskInput, 'candidates' | 'candidateMode'> {
  if (opts.candidates === undefined) {
    if (opts.firstPass) throw new UsageError('--first-pass needs --candidates N (2 or more)');
    return {};
  }
  const n = Number(opts.candidates);
  if (!Number.isInteger(n)) throw new UsageError(`--candidates must be a whole number, not '${opts.candidates}'`);
  return { candidates: n, ...(opts.firstPass ? { candidateMode: 'first-pass' as const } : {}) };
}

/** What a submission did, in a line; an ended task says so, since it will not run again. */
function submissionLine(s: Submission): string {
  const line = `${s.attached ? 'attached to' : 'started'} ${s.workflowId} (run ${s.runId})`;
  return s.ended ? `${line}; the task already ended ${s.ended} and will not run again (a task id runs once)` : line;
}

/** The `submit --json` document: `ended` is always present, null while the task has not ended. */
function submissionJson(s: Submission): Record<string, unknown> {
  return { ...s, ended: s.ended ?? null };
}

/**
 * Where the tenant's registered repository is, as this CLI's role may see it, so clashing gate
 * names are refused before anything starts. Best effort: the workflow resolves the name itself.
 */
async function visibleRepoPath(tenantId: string, repo: string): Promise<string | undefined> {
  return withTenantDb(tenantId, async (db) => (await findRepo(db, tenantId, repo))?.path).catch(() => undefined);
}

async function submit(specFile: string, opts: SubmitOptions): Promise<number> {
  if (!existsSync(specFile)) throw new UsageError(`spec file '${specFile}' does not exist`);
  const specYaml = readFileSync(specFile, 'utf8');
  return withClient(async (client, config) => {
    const input = {
      tenantId: opts.tenant ?? config.defaultTenant,
      taskId: opts.taskId ?? defaultTaskId(specYaml),
      specYaml,
      repo: opts.repo,
      baseRef: opts.base,
      agentHint: opts.agent,
      gates: opts.gate ?? [],
      ...candidatesOption(opts),
      ...(opts.language ? { language: opts.language as TaskInput['language'] } : {}),
    };
    const localRepoPath = input.gates.length ? await visibleRepoPath(input.tenantId, input.repo) : undefined;
    const submission = await client.submit(input, { localRepoPath });
    if (!opts.json) process.stdout.write(`${submissionLine(submission)}\n`);
    if (!opts.wait) {
      if (opts.json) printJson(submissionJson(submission));
      return EXIT.ok;
    }
    let printed = 0;
    const final = await client.watch(input, (s) => {
      if (!opts.json) printed = printNewTransitions(s, printed, printLine);
    });
    process.stdout.write(
      opts.json
        ? `${JSON.stringify({ ...submissionJson(submission), status: statusJson(final) }, null, 2)}\n`
        : `${statusText(final)}\n`,
    );
    return final.state === 'COMPLETED' && (await heldToRecord(input, final)) ? EXIT.ok : EXIT.failed;
  });
}

/** Registers the task commands on `program`. */
export function registerTaskCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('submit')
    .description('submit a CAWS working spec as a task against a git repository')
    .argument('<spec>', 'path to the working spec YAML')
    .requiredOption('--repo <name>', "the target repository's registered name (arbiter repos add)")
    .option('--tenant <tenant>', 'tenant id (default: ARBITER_TENANT or "default")')
    .option('--task-id <id>', 'task id; the same id attaches to the existing task')
    .option('--agent <id>', 'ask for this agent (honoured when it is capable)')
    .option('--base <ref>', 'commit-ish to start from (default: the repo HEAD)')
    .option('--gate <NAME=COMMAND>', 'a gate command run in the workspace (repeatable)', parseGateOption)
    .option('--candidates <n>', 'best of N: run N candidates (distinct agents) and deliver the best')
    .option('--first-pass', 'with --candidates: stop the others as soon as one passes')
    .option('--language <name>', "the task's language (javascript, python, …): routing learns per language too")
    .option('--wait', 'follow the task until it ends; exit 0 only when COMPLETED')
    .option('--json', 'machine-readable output')
    .action((spec: string, opts: SubmitOptions) => run(() => submit(spec, opts)));

  program
    .command('status')
    .description('show the task snapshot (getState)')
    .argument('<task>', 'TASK_ID, TENANT/TASK_ID or task/TENANT/TASK_ID')
    .option('--tenant <tenant>', 'tenant of a bare TASK_ID')
    .option('--json', 'machine-readable output')
    .action((task: string, opts: { tenant?: string; json?: boolean }) =>
      run(() =>
        withClient(async (client, config) => {
          const ref = await visibleTask(task, opts.tenant ?? config.defaultTenant);
          const s = await client.status(ref);
          process.stdout.write(opts.json ? `${JSON.stringify(statusJson(s), null, 2)}\n` : `${statusText(s)}\n`);
          return (await heldToRecord(ref, s)) ? EXIT.ok : EXIT.failed;
        }),
      ),
    );

  program
    .command('watch')
    .description('print each state change until the task ends')
    .argument('<task>')
    .option('--tenant <tenant>')
    .action((task: string, opts: { tenant?: string }) =>
      run(() =>
        withClient(async (client, config) => {
          let printed = 0;
          const ref = await visibleTask(task, opts.tenant ?? config.defaultTenant);
          const final = await client.watch(
            ref,
            (s) => {
              printed = printNewTransitions(s, printed, printLine);
            },
            undefined,
            () =>
              process.stderr.write('no worker is answering for this task (all down or restarting); waiting for one\n'),
          );
          process.stdout.write(`${statusText(final)}\n`);
          return final.state === 'COMPLETED' && (await heldToRecord(ref, final)) ? EXIT.ok : EXIT.failed;
        }),
      ),
    );

  program
    .command('cancel')
    .description('cancel a running task')
    .argument('<task>')
    .option('--tenant <tenant>')
    .option('--reason <text>', 'why', 'cancelled from the arbiter CLI')
    .action((task: string, opts: { tenant?: string; reason: string }) =>
      run(() =>
        withClient(async (client, config) => {
          const ref = await visibleTask(task, opts.tenant ?? config.defaultTenant);
          const before = await client.status(ref);
          if (isTerminal(before.state)) {
            process.stderr.write(
              `task ${ref.tenantId}/${ref.taskId} already ended in ${before.state}; nothing to cancel\n`,
            );
            return EXIT.failed;
          }
          await client.cancel(ref, opts.reason);
          const after = await client.watch(ref);
          process.stdout.write(`${ref.tenantId}/${ref.taskId} ${after.state}\n`);
          return after.state === 'CANCELLED' ? EXIT.ok : EXIT.failed;
        }),
      ),
    );
}
