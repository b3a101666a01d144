/**
 * Patch `local-short-steps` moved recordTransition, resolveRepo and validateSpec to local
 * activities. A history recorded before it (a completed task, scheduling them as activities)
 * must still replay on the current code, or every open task from before would fail. The fixture
 * is the binary History protobuf of the load benchmark's warm-up task on the code before the patch.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { projectRoot } from '../../client/paths';
import { testStack } from '../helpers/stack';

const FIXTURE = path.join(projectRoot(), 'test', 'fixtures', 'histories-perf', 'completed-before-local-steps.pb');

describe('replaying a history recorded before the local-short-steps patch', function () {
  this.timeout(60_000);

  it('replays the completed task without nondeterminism', async () => {
    const history = temporal.api.history.v1.History.decode(readFileSync(FIXTURE));
    const events = history.events;
    assert.ok(events.some((e) => e.activityTaskScheduledEventAttributes));
    assert.ok(!events.some((e) => e.markerRecordedEventAttributes), 'recorded before any local activity or patch');
    await Worker.runReplayHistory({ workflowBundle: testStack().bundle }, history, 'task/bench/warm-up');
  });
});
