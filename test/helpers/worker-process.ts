/**
 * `arbiter worker` as a separate OS process, for tests that kill a worker the way a host dies
 * (SIGKILL, no shutdown) and watch another worker finish its tasks.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { ArbiterClient } from '../../client/arbiter-client';
import { projectRoot } from '../../client/paths';
import type { ArbiterWorker } from '../../workers/worker';
import { testStack } from './stack';
import { waitFor } from './wait';

const printed = new WeakMap<ChildProcess, string>();

/** The last `chars` characters a worker from {@link spawnWorker} printed, for a failing test's message. */
export function workerOutputTail(child: ChildProcess, chars = 4000): string {
  return (printed.get(child) ?? '').slice(-chars);
}

/**
 * Starts `arbiter worker` on `taskQueue` with ARBITER_HOME `home` (plus `env`) and waits until it
 * polls: this checkout's, or the one at `checkout` (a built earlier release, for upgrade tests).
 */
export async function spawnWorker(
  taskQueue: string,
  home: string,
  env: NodeJS.ProcessEnv = {},
  checkout = projectRoot(),
): Promise<ChildProcess> {
  const stack = testStack();
  let output = '';
  const child = spawn(process.execPath, [path.join(checkout, 'bin', 'arbiter.js'), 'worker'], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.address,
      DATABASE_URL: stack.databaseUrl,
      ARBITER_TASK_QUEUE: taskQueue,
      ARBITER_HOME: home,
      LOG_LEVEL: 'info',
      // The tests' fake models listen on loopback, which a key-less upstream reaches only when listed.
      ARBITER_PRIVATE_UPSTREAMS: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (d: Buffer) => {
    output += d.toString();
    printed.set(child, output);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  await waitFor(`${checkout}'s worker to poll`, async () => output.includes('arbiter worker polling'), 120_000);
  return child;
}

/** SIGKILLs `child` and resolves once it has exited. */
export async function killHard(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
}

/**
 * {@link spawnWorker} for one worker process per test. Call it inside a `describe`: it registers
 * an `afterEach` that SIGKILLs the process a failed test left running.
 */
export function workerProcessPerTest(): typeof spawnWorker {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child = undefined;
  });
  return async (...args) => (child = await spawnWorker(...args));
}

/** A client of the test stack's server that starts tasks on `taskQueue`; the caller closes it. */
export function clientOnQueue(taskQueue: string): Promise<ArbiterClient> {
  return ArbiterClient.connect({ address: testStack().address, namespace: 'default', tls: false }, { taskQueue });
}

/** Shuts down an in-process worker from `testStack().startWorker` and waits until it has stopped. */
export async function stopWorker(started: { worker: ArbiterWorker; running: Promise<void> }): Promise<void> {
  started.worker.shutdown();
  await started.running;
}

/** A task's agent step (`executeAgent`) as its run's pending activities show it, while there is one. */
export async function agentStep(handle: WorkflowHandle) {
  const { raw } = await handle.describe();
  return raw.pendingActivities?.find((a) => a.activityType?.name === 'executeAgent');
}
