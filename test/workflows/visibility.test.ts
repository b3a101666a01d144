/**
 * What a run costs the server in history and visibility writes, and what it still shows: a run
 * on this code records one patch marker (release 7's) and upserts its own search attributes at
 * most once per workflow task, and its steps' retry policies name no refusal types (each refusal is
 * final on the worker: activities/final-refusals.ts), yet visibility names the state a waiting task is in; its stack
 * trace query still names the workflow step it waits in, at the frame limit
 * workflows/shared-modules.ts sets.
 */
import assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import { SandboxUidsExhaustedError } from '../../domain/errors';
import { taskWorkflowId } from '../../temporal-config';
import { RELEASE_7_PATCH } from '../../workflows/patches';
import { WORKFLOW_STACK_FRAMES } from '../../workflows/shared-modules';
import { taskAwaitingWaiver } from '../helpers/approvers';
import { waitFor } from '../helpers/wait';

describe('what a run writes to history and visibility', function () {
  this.timeout(120_000);

  it('a task waiting for a waiver: one patch marker, one upsert of its own per workflow task, no refusal types in its steps, its state visible, its stack trace naming the wait', async () => {
    const { stack, tenant, input } = await taskAwaitingWaiver();
    const handle = stack.client.temporal.workflow.getHandle(taskWorkflowId(input));

    const query = `ArbiterState="VERIFYING" AND TenantId="${tenant}" AND RiskTier=3`;
    await waitFor('visibility to show the waiting task in VERIFYING', async () => {
      for await (const wf of stack.client.temporal.workflow.list({ query }))
        if (wf.workflowId === handle.workflowId) return true;
      return undefined;
    });

    const events: temporal.api.history.v1.IHistoryEvent[] = (await handle.fetchHistory()).events ?? [];
    const patches = events
      .map((e) => e.markerRecordedEventAttributes)
      .filter((m) => m?.markerName === 'core_patch')
      .map((m) => JSON.parse(Buffer.from(m!.details!['patch-data'].payloads![0].data!).toString('utf8')).id as string);
    assert.deepEqual(patches, [RELEASE_7_PATCH]);

    const ownUpserts = new Map<string, number>();
    for (const e of events) {
      const upsert = e.upsertWorkflowSearchAttributesEventAttributes;
      if (!upsert || 'TemporalChangeVersion' in (upsert.searchAttributes?.indexedFields ?? {})) continue;
      const task = String(upsert.workflowTaskCompletedEventId);
      ownUpserts.set(task, (ownUpserts.get(task) ?? 0) + 1);
    }
    assert.ok(ownUpserts.size > 0, 'the run shows its state');
    assert.deepEqual(
      [...ownUpserts].filter(([, n]) => n > 1),
      [],
      'upserts of its own per workflow task',
    );

    const listed = events.flatMap(
      (e) => e.activityTaskScheduledEventAttributes?.retryPolicy?.nonRetryableErrorTypes ?? [],
    );
    assert.ok(
      events.some((e) => e.activityTaskScheduledEventAttributes),
      'the run scheduled steps',
    );
    assert.deepEqual(
      listed.filter((type) => type !== SandboxUidsExhaustedError.type),
      [],
      'refusal types carried by scheduled steps',
    );

    const trace = await handle.query<string>('__stack_trace');
    const stacks = trace.split('\n\n').filter((s) => s.trim());
    assert.match(trace, /workflows\/waiver\.ts/, trace);
    const longest = Math.max(...stacks.map((s) => s.split('\n').filter((l) => l.trim().startsWith('at ')).length));
    assert.ok(longest <= WORKFLOW_STACK_FRAMES - 2, `a stack of ${longest} frames:\n${trace}`);
  });
});
