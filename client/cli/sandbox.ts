/**
 * `arbiter sandbox exec`: runs one command exactly as an agent's would run — same confinement,
 * limits and environment — in a directory of the operator's choosing, then reports what it
 * changed and which of those changes fall outside the given scope.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { createCommandRunner } from '../../host/sandbox/commands';
import { withOneOffSandboxUser } from '../../host/sandbox/uid-leases';
import { writeRefusal } from '../../host/sandbox/write-policy';
import { arbiterHomeOf, refuseCarriedHome } from '../../host/checkout-carried';
import { loadClientConfig } from '../config';
import { collect, EXIT, printJson, UsageError } from './output';

async function snapshot(dir: string, rel = '', out = new Map<string, string>()): Promise<Map<string, string>> {
  for (const entry of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const p = path.join(rel, entry.name);
    if (entry.isDirectory()) await snapshot(dir, p, out);
    else if (entry.isFile())
      out.set(
        p,
        createHash('sha256')
          .update(await fs.readFile(path.join(dir, p)))
          .digest('hex'),
      );
    else out.set(p, entry.isSymbolicLink() ? `link:${await fs.readlink(path.join(dir, p))}` : 'special');
  }
  return out;
}

function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}

interface ExecOptions {
  workspace: string;
  scopeIn: string[];
  scopeOut: string[];
  tier: string;
  timeout: string;
  allowShell?: boolean;
  json?: boolean;
}

async function exec(argv: string[], opts: ExecOptions): Promise<number> {
  if (argv.length === 0) throw new UsageError('name a command after --');
  const workspace = path.resolve(opts.workspace);
  if (!(await fs.stat(workspace).catch(() => undefined))?.isDirectory())
    throw new UsageError(`--workspace '${opts.workspace}' is not a directory`);
  const config = loadClientConfig();
  refuseCarriedHome(arbiterHomeOf(config)); // its sandbox uid leases live there
  const before = await snapshot(workspace);
  // A uid of its own for this one command, so it shares no process limit or files with any task's.
  const run = await withOneOffSandboxUser(config.home, config.sandbox.uids, (user) =>
    createCommandRunner({
      sandbox: config.sandbox,
      sandboxUser: async () => user,
      warn: (m) => process.stderr.write(`${m}\n`),
    })({
      tenantId: 'operator',
      taskId: 'sandbox-exec',
      workspacePath: workspace,
      argv,
      policy: { allowShell: Boolean(opts.allowShell) },
      timeoutMs: Number(opts.timeout) * 1000,
      purpose: 'operator',
    }),
  );
  const policy = {
    scopeIn: opts.scopeIn.length ? opts.scopeIn : ['**'],
    scopeOut: opts.scopeOut,
    riskTier: Number(opts.tier),
    allowShell: Boolean(opts.allowShell),
  };
  const changed = changes(before, await snapshot(workspace)).map((p) => ({
    path: p,
    refused: writeRefusal(p, policy) ?? null,
  }));
  const violations = changed.filter((c) => c.refused);
  if (opts.json) printJson({ ...run, changed });
  else {
    if (run.outputTail) process.stdout.write(run.outputTail.endsWith('\n') ? run.outputTail : `${run.outputTail}\n`);
    process.stderr.write(
      `exit ${run.exitCode ?? run.signal} in ${run.durationMs} ms (sandbox: ${run.sandbox})${run.killedReason ? `, killed: ${run.killedReason}` : ''}${run.truncated ? ', output truncated' : ''}\n`,
    );
    for (const c of changed)
      process.stderr.write(`  changed ${c.path}${c.refused ? `  OUT OF SCOPE: ${c.refused}` : ''}\n`);
  }
  if (run.exitCode !== 0) return run.exitCode ?? EXIT.failed;
  return violations.length ? EXIT.failed : EXIT.ok;
}

/** Registers `sandbox exec` on `program`. */
export function registerSandboxCommands(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  const sandbox = program.command('sandbox').description('run commands the way agents run them');
  sandbox
    .command('exec')
    .description('run one command confined in DIR (argv, no shell) and report what it changed against the scope')
    .requiredOption(
      '--workspace <dir>',
      'directory mounted as the workspace (when root, the command runs as a uid leased for it: make DIR writable by all)',
    )
    .option('--scope-in <glob>', 'path glob the command may change (repeatable; default: everything)', collect, [])
    .option('--scope-out <glob>', 'path glob the command must not change (repeatable)', collect, [])
    .option('--tier <n>', 'risk tier for protected paths', '3')
    .option('--timeout <seconds>', 'wall-clock limit', '300')
    .option('--allow-shell', 'allow sh/bash as the program')
    .option('--json', 'machine-readable result')
    .argument('<command...>', 'the command and its arguments, after --')
    .action((command: string[], opts: ExecOptions) => run(() => exec(command, opts)));
}
