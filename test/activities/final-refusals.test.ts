/**
 * A typed refusal is final however it is thrown: the worker, not a list in every step's retry
 * policy, keeps it from being retried. Retryable failures and plain errors are left to the
 * retry policy.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { keepRefusalsFinal } from '../../activities/final-refusals';
import { AgentsBusyError, NON_RETRYABLE_ERROR_TYPES, SpecInvalidError } from '../../domain/errors';

/** What a wrapped activity that throws `err` fails with. */
async function thrown(err: unknown): Promise<unknown> {
  const { step } = keepRefusalsFinal({
    step: async () => {
      throw err;
    },
  });
  return new MockActivityEnvironment().run(step).then(
    () => assert.fail('the step succeeded'),
    (e: unknown) => e,
  );
}

describe('typed refusals are final on the worker', () => {
  it('a refusal type thrown retryable fails non-retryable, with its type, message, details and cause', async () => {
    const cause = new Error('underneath');
    for (const type of NON_RETRYABLE_ERROR_TYPES) {
      const err = await thrown(
        ApplicationFailure.create({
          message: `refused: ${type}`,
          type,
          details: [{ n: 1 }],
          nonRetryable: false,
          cause,
        }),
      );
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.nonRetryable, true, type);
      assert.equal(err.type, type);
      assert.equal(err.message, `refused: ${type}`);
      assert.deepEqual(err.details, [{ n: 1 }]);
      assert.equal(err.cause, cause);
    }
  });

  it('a plain error class named like a refusal fails non-retryable under that type', async () => {
    class PathEscapeError extends Error {}
    const err = await thrown(new PathEscapeError('../outside'));
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'PathEscapeError');
    assert.equal(err.nonRetryable, true);
    assert.equal(err.message, '../outside');
  });

  it('a refusal built as Arbiter builds it passes through unchanged', async () => {
    const refusal = new SpecInvalidError(['id is missing']);
    assert.equal(await thrown(refusal), refusal);
  });

  it('a retryable type and a plain error are left to the retry policy', async () => {
    const busy = new AgentsBusyError('every capable agent is busy');
    const outage = new Error('connect ECONNREFUSED');
    assert.equal(await thrown(busy), busy);
    assert.equal(await thrown(outage), outage);
    const other = ApplicationFailure.retryable('a step of its own', 'SomethingElseError');
    assert.equal(await thrown(other), other);
  });
});
