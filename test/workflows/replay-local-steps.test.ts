/**
 * Patch `local-short-steps` moved recordTransition, resolveRepo and validateSpec to local
 * activities. A history recorded before it (a completed task, scheduling them as activities)
 * must still replay on the current code, or every open task from before would fail.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { projectRoot } from '../../client/paths';
import { testStack } from '../helpers/stack';

const FIXTURE = path.join(projectRoot(), 'test', 'fixtures', 'histories-perf', 'completed-before-local-steps.json');

describe('replaying a history recorded before the local-short-steps patch', function () {
  this.timeout(60_000);

  it('replays the completed task without nondeterminism', async () => {
    const history: unknown = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    const events = (history as { events: Array<{ eventType: string; markerRecordedEventAttributes?: unknown }> })
      .events;
    assert.ok(events.some((e) => e.eventType === 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'));
    assert.ok(!events.some((e) => e.markerRecordedEventAttributes), 'recorded before any local activity or patch');
    await Worker.runReplayHistory({ workflowBundle: testStack().bundle }, history, 'task/bench/warm-up');
  });
});
