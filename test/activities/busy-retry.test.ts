/**
 * Waiting for agent capacity keeps its own retry pace (1 s doubling to 30 s) while every other
 * failure backs off to the workflows' 10 s cap: a routing attempt that failed on a database
 * outage must not wait 30 s after the database is back.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { busyRetryDelayMs, paceBusyRetries } from '../../activities/busy-retry';
import { AgentsBusyError } from '../../domain/errors';

/** What the wrapped `fail` throws on routing attempt `attempt`. */
async function thrownOnAttempt(attempt: number, fail: () => never): Promise<unknown> {
  const { routeTask } = paceBusyRetries({ routeTask: async () => fail() });
  return new MockActivityEnvironment({ attempt }).run(routeTask).then(
    () => assert.fail('routeTask succeeded'),
    (err: unknown) => err,
  );
}

describe('busy-agent retry pace', () => {
  it('doubles from 1 s to at most 30 s', () => {
    assert.deepEqual([1, 2, 3, 5, 6, 7, 20].map(busyRetryDelayMs), [1000, 2000, 4000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('sets the next retry delay of an AgentsBusyError by its attempt, keeping its type and message', async () => {
    const err = await thrownOnAttempt(4, () => {
      throw new AgentsBusyError('every capable agent is busy; waiting');
    });
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, AgentsBusyError.type);
    assert.equal(err.message, 'every capable agent is busy; waiting');
    assert.equal(err.nonRetryable, false);
    assert.equal(err.nextRetryDelay, 8000);
  });

  it('leaves every other failure to the retry policy', async () => {
    const outage = new Error('connect ECONNREFUSED');
    assert.equal(
      await thrownOnAttempt(6, () => {
        throw outage;
      }),
      outage,
    );
  });
});
