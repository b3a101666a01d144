/**
 * Reading what a run did from its history: the activities it ran, remote (scheduled events) and
 * local (the markers the SDK records for them), in order.
 */
import type { WorkflowHandle } from '@temporalio/client';

/** One event of a fetched history. */
export type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** A local activity's record in a `core_local_activity` marker, or undefined for any other event. */
function localActivityOf(e: HistoryEvent): { type: string; attempt: number } | undefined {
  const marker = e.markerRecordedEventAttributes;
  const raw = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
  if (!raw) return undefined;
  const data = JSON.parse(Buffer.from(raw).toString('utf8')) as { activity_type?: string; attempt?: number };
  return { type: data.activity_type ?? '', attempt: data.attempt ?? 0 };
}

/** Activity types a run ran, remote and local, in history order. */
export function activitiesRun(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (scheduled) return [scheduled];
    const local = localActivityOf(e);
    return local ? [local.type] : [];
  });
}

/** Attempt numbers of the local activity `activity` (the last attempt's, one per call). */
export function localAttemptsOf(events: HistoryEvent[], activity: string): number[] {
  return events.flatMap((e) => {
    const local = localActivityOf(e);
    return local?.type === activity ? [local.attempt] : [];
  });
}
