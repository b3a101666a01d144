/**
 * Attack: whoever runs workflow code in the namespace writes the activities' input, including the
 * repository's path on the worker. A run of their own scheduling `prepareWorkspace` or
 * `loadRepoPolicy` with another tenant's repository (or any git repository on the host) would
 * clone it for an agent to read, or read its policy. Both refuse a path that is not one of the
 * task's tenant's registrations, before reading anything.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { PreparedWorkspace, TrustedPolicy } from '../../domain/activity-io';
import { SILENT_LOGGER } from '../../workers/logger';
import { makeRepo, registeredPath, uniqueId } from '../helpers/fixtures';
import { testActivityDeps } from '../helpers/stack';
import { ownTask } from '../helpers/tasks';

const unknownRepo = (path: string) => (err: unknown) =>
  err instanceof ApplicationFailure &&
  err.type === 'UnknownRepoError' &&
  err.message.includes(`no repository registered for tenant`) &&
  err.message.includes(`is at '${path}'`);

describe("activities: a repository path must be the tenant's registration", function () {
  this.timeout(60_000);

  it("refuses another tenant's repository, and a path no one registered; the owner's passes", async () => {
    const a = createActivities(testActivityDeps());
    const env = new MockActivityEnvironment(undefined, { logger: SILENT_LOGGER });
    const owner = uniqueId('owner');
    const intruder = uniqueId('intruder');
    const theirs = await registeredPath(owner);
    const unregistered = makeRepo();
    for (const repoPath of [theirs, unregistered]) {
      const ref = { tenantId: intruder, taskId: uniqueId('task') };
      await ownTask(env, ref);
      await assert.rejects(env.run(a.prepareWorkspace, { ...ref, repoPath }), unknownRepo(repoPath));
      await assert.rejects(env.run(a.loadRepoPolicy, { ...ref, repoPath }), unknownRepo(repoPath));
    }
    const ref = { tenantId: owner, taskId: uniqueId('task') };
    await ownTask(env, ref);
    const ws: PreparedWorkspace = await env.run(a.prepareWorkspace, { ...ref, repoPath: theirs });
    assert.match(ws.baseCommit, /^[0-9a-f]{40}$/);
    const trusted: TrustedPolicy = await env.run(a.loadRepoPolicy, { ...ref, repoPath: theirs });
    assert.equal(trusted.policy.source, 'default');
  });
});
