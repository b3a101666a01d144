/** Search attributes: a worker refuses a namespace without them; `ensureSearchAttributes` registers them. */
import assert from 'node:assert/strict';
import { msToTs } from '@temporalio/common/lib/time';
import {
  MissingSearchAttributesError,
  ensureSearchAttributes,
  missingSearchAttributes,
} from '../../temporal-config/ensure-search-attributes';
import { SEARCH_ATTRIBUTE_KEYS, parseTaskWorkflowId, taskWorkflowId } from '../../temporal-config';
import { createArbiterWorker } from '../../workers/worker';
import { uniqueId } from '../helpers/fixtures';
import { testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

async function bareNamespace(): Promise<string> {
  const namespace = uniqueId('bare');
  await testStack().env.connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('1 day'),
  });
  await waitFor(
    'namespace',
    async () => (await testStack().env.connection.workflowService.describeNamespace({ namespace })).namespaceInfo,
  );
  return namespace;
}

describe('search attributes', function () {
  this.timeout(60_000);

  it('task workflow ids round-trip and reject other shapes', () => {
    assert.equal(taskWorkflowId({ tenantId: 'acme', taskId: 'T-1' }), 'task/acme/T-1');
    assert.deepEqual(parseTaskWorkflowId('task/acme/T-1'), { tenantId: 'acme', taskId: 'T-1' });
    assert.equal(parseTaskWorkflowId('task/acme'), undefined);
    assert.equal(parseTaskWorkflowId('task/acme/T-1/x'), undefined);
    assert.equal(parseTaskWorkflowId('other/acme/T-1'), undefined);
  });

  it('a worker refuses a namespace that lacks them, naming each', async () => {
    const stack = testStack();
    const namespace = await bareNamespace();
    await assert.rejects(
      createArbiterWorker({
        connection: stack.env.nativeConnection,
        namespace,
        taskQueue: 'unused',
        database: stack.database,
        home: stack.home,
        workflowBundle: stack.bundle,
      }),
      (err: Error) =>
        err instanceof MissingSearchAttributesError && SEARCH_ATTRIBUTE_KEYS.every((k) => err.message.includes(k.name)),
    );
  });

  it('ensureSearchAttributes registers the missing ones and is idempotent', async () => {
    const operator = testStack().env.connection.operatorService;
    const namespace = await bareNamespace();
    await assert.rejects(ensureSearchAttributes(operator, namespace, false), MissingSearchAttributesError);
    await ensureSearchAttributes(operator, namespace, true);
    await ensureSearchAttributes(operator, namespace, true);
    assert.deepEqual(await missingSearchAttributes(operator, namespace), []);
  });
});
