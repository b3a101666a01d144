/** Runs the real `arbiter` CLI (bin/arbiter.js) as a child process, asynchronously so the in-process worker keeps working. */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot, temporalCliPath } from '../../client/paths';
import { testStack } from './stack';
import { tempDir } from './temp';

/** Exit code and output of one CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `arbiter …args` with `env` added to the environment (run in `cwd`, this process's by default). */
export function arbiter(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 90_000,
  cwd?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [path.join(projectRoot(), 'bin', 'arbiter.js'), ...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, cwd },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The environment the `arbiter` CLI needs to reach the test stack, with a home of its own. */
export function cliEnv(): NodeJS.ProcessEnv {
  const stack = testStack();
  return {
    TEMPORAL_ADDRESS: stack.address,
    DATABASE_URL: stack.databaseUrl,
    ARBITER_TASK_QUEUE: stack.taskQueue,
    ARBITER_HOME: tempDir('arbiter-cli-home-'),
  };
}

/** `temporal workflow <args>` against the test server, as an operator would type it. */
export async function temporalWorkflow(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    temporalCliPath(),
    ['workflow', ...args, '--address', testStack().address, '--namespace', 'default'],
    { timeout: 60_000 },
  );
  return stdout;
}

/** `temporal workflow reset` of `runId` to the workflow task completed at `eventId`, as an insider would. */
export async function resetRunTo(workflowId: string, runId: string, eventId: number | string, reason: string) {
  const at = ['--run-id', runId, '--event-id', String(eventId)];
  await temporalWorkflow(['reset', '--workflow-id', workflowId, ...at, '--reason', reason]);
}
