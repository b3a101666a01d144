/**
 * The `arbiter` CLI. Exit codes: 0 success, 1 the operation failed (the message says why),
 * 2 bad usage.
 */
import { Command, CommanderError } from 'commander';
import { InvalidAgentError } from '../../db/agents';
import { InvalidTaskInputError } from '../arbiter-client';
import { runWorkerProcess } from '../../workers/main';
import { registerAgentCommands } from './agents';
import { registerCallsCommand } from './calls';
import { registerClusterCommand } from './cluster';
import { registerDoctorCommand } from './doctor';
import { EXIT, UsageError } from './output';
import { printableLines } from '../../domain/printable';
import { registerExportCommand } from './export';
import { registerProvenanceCommands } from './provenance';
import { registerRepoAndTenantCommands } from './repos';
import { registerVerdictCommands } from './verdict';
import { registerWaiverCommands } from './waivers';
import { registerApproverCommands } from './approvers';
import { registerDecisionCommands } from './decisions';
import { registerSandboxCommands } from './sandbox';
import { registerStartCommand } from './start';
import { registerTaskCommands } from './tasks';

/** The error with its causes ("Workflow Update failed: … is not an approver …"): the innermost says why. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.message && !parts.includes(e.message)) parts.push(e.message);
    if (parts.length > 5) break;
  }
  return parts.join(': ') || String(err);
}

async function run(fn: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await fn();
  } catch (err) {
    const usage = err instanceof UsageError || err instanceof InvalidTaskInputError || err instanceof InvalidAgentError;
    process.stderr.write(`arbiter: ${describeError(err)}\n`);
    process.exitCode = usage ? EXIT.usage : EXIT.failed;
  }
}

/** Builds the command tree (exported for tests). */
export function buildProgram(): Command {
  const program = new Command('arbiter')
    .description('Run AI coding-agent tasks under a CAWS contract on Temporal, with a verdict at the end')
    .exitOverride()
    .showHelpAfterError();
  registerStartCommand(program, run);
  registerDoctorCommand(program, run);
  program
    .command('worker')
    .description('run a worker for TEMPORAL_ADDRESS / DATABASE_URL (production)')
    .action(() => run(async () => (await runWorkerProcess(), EXIT.ok)));
  registerTaskCommands(program, run);
  registerCallsCommand(program, run);
  registerAgentCommands(program, run);
  registerSandboxCommands(program, run);
  registerExportCommand(program, run);
  registerVerdictCommands(program, run);
  registerProvenanceCommands(program, run);
  registerDecisionCommands(program, run);
  registerWaiverCommands(program, run);
  registerApproverCommands(program, run);
  registerRepoAndTenantCommands(program, run);
  registerClusterCommand(program, run);
  return program;
}

/**
 * Makes everything `stream` is given safe for a terminal: records carry names and messages an agent
 * chose, and one holding escape sequences could redraw what a reviewer reads (domain/printable.ts).
 */
function guardTerminal(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : undefined;
    return write(text === undefined ? chunk : printableLines(text), ...rest);
  }) as typeof stream.write;
}

/** Entry point used by bin/arbiter.js. */
export async function main(argv: string[]): Promise<void> {
  guardTerminal(process.stdout);
  guardTerminal(process.stderr);
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    process.stderr.write(`arbiter: ${(err as Error).message}\n`);
    process.exitCode = err instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}
