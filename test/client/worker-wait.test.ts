/**
 * A watcher's update rides on a workflow task; when that task fails (lost by a worker, timed out
 * under load) the server drops the update, and the task is retried and goes on. `watch` failed
 * there under load ("Workflow Update failed … unexpected workflow task failure"); it now reads the
 * state again. The server's answers are told apart by their gRPC code and details.
 */
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { ServiceError } from '@temporalio/client';
import { isUnansweredQuery, isUpdateDroppedByTaskFailure } from '../../client/worker-wait';

const grpc = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });

describe("a watcher's view of the server's refusals", () => {
  it('an update dropped with a failed workflow task is waited through; other refusals are not', () => {
    const dropped = new ServiceError('Workflow Update failed', {
      cause: grpc(9, 'Unable to perform workflow execution update due to unexpected workflow task failure.'),
    });
    assert.ok(isUpdateDroppedByTaskFailure(dropped));
    assert.ok(!isUnansweredQuery(dropped));
    for (const other of [
      grpc(9, 'no poller seen for task queue recently'),
      grpc(5, 'workflow not found'),
      grpc(3, 'bad input'),
    ])
      assert.ok(
        !isUpdateDroppedByTaskFailure(new ServiceError('Workflow Update failed', { cause: other })),
        other.details,
      );
  });
});
