/**
 * `arbiter start [--once]`: the local stack plus the bundled example task, end to end, with
 * each state change and the verdict printed. `--once` exits after it (0 on PASS); otherwise it
 * serves until Ctrl-C and then stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { realpathSync } from 'node:fs';
import { upsertAgent } from '../../db/agents';
import { addRepo } from '../../db/repos';
import { taskWorkflowId } from '../../temporal-config';
import { ArbiterClient } from '../arbiter-client';
import { loadClientConfig } from '../config';
import { EXAMPLE_REPO, ensureExampleRepo, exampleAgent, exampleTask } from '../example';
import { startLocalStack } from '../local-stack';
import { EXIT, printNewTransitions, statusText } from './output';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Resolves on the first Ctrl-C / SIGTERM. Listening from the very start keeps Node from dying mid-startup. */
function interruption(): Promise<'interrupted'> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('interrupted'));
    process.once('SIGTERM', () => resolve('interrupted'));
  });
}

async function start(opts: { once?: boolean; example?: boolean }): Promise<number> {
  const interrupted = interruption();
  let stopRequested = false;
  void interrupted.then(() => {
    stopRequested = true;
    out('stopping…');
  });
  const config = loadClientConfig();
  const stack = await startLocalStack(config, config.localPorts, out);
  let code: number = EXIT.ok;
  try {
    if (opts.example !== false && !stopRequested) {
      const example = runExample(config, stack.info.temporalAddress, stack.adminDatabase.db, stack.info.uiUrl);
      const outcome = await Promise.race([example, interrupted]);
      code = outcome === 'interrupted' ? EXIT.failed : outcome;
    }
    if (!opts.once && !stopRequested) {
      out(`\nArbiter is running. Web UI: ${stack.info.uiUrl ?? '(your Temporal UI)'}  — Ctrl-C to stop.`);
      await interrupted;
      code = EXIT.ok;
    }
  } finally {
    await stack.stop();
  }
  return code;
}

async function runExample(
  config: ReturnType<typeof loadClientConfig>,
  address: string,
  db: Parameters<typeof upsertAgent>[0],
  uiUrl?: string,
): Promise<number> {
  const agent = await upsertAgent(db, exampleAgent());
  out(`registered agent ${agent.id} (${agent.kind})`);
  const repo = realpathSync(ensureExampleRepo(config.home));
  await addRepo(db, { ...EXAMPLE_REPO, path: repo }, { replace: true });
  out(`registered repository ${EXAMPLE_REPO.tenantId}/${EXAMPLE_REPO.name} -> ${repo}`);
  const task = exampleTask(`example-${randomBytes(4).toString('hex')}`);
  const client = await ArbiterClient.connect({ ...config.temporal, address }, { taskQueue: config.taskQueue });
  try {
    const submission = await client.submit(task);
    out(`submitted example task ${submission.workflowId} against ${repo}`);
    if (uiUrl)
      out(
        `watch it: ${uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(taskWorkflowId(task))}`,
      );
    let printed = 0;
    const final = await client.watch(task, (s) => {
      printed = printNewTransitions(s, printed, out);
    });
    out(statusText(final));
    const passed = final.state === 'COMPLETED' && final.verdict?.outcome === 'PASS';
    out(
      passed
        ? `PASS — change delivered to branch ${final.delivery?.branch} in ${repo}`
        : `example task ended ${final.state}`,
    );
    return passed ? EXIT.ok : EXIT.failed;
  } finally {
    await client.close();
  }
}

/** Registers `start` on `program`. */
export function registerStartCommand(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('start')
    .description('run the local stack (Temporal dev server + UI, PostgreSQL, worker) and the bundled example task')
    .option('--once', 'exit after the example task (0 on a PASS verdict)')
    .option('--no-example', 'do not submit the example task')
    .action((opts: { once?: boolean; example?: boolean }) => run(() => start(opts)));
}
