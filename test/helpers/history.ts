/**
 * Reading a run's history in tests: what it holds as text (and what it keeps out), and the
 * activities it ran, remote (scheduled events) and local (the markers the SDK records), in order.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { testStack } from './stack';

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

/** How many attempts of `activity` started, as the history records them (the last attempt's number). */
export function attemptsOf(events: HistoryEvent[], activity: string): number[] {
  const scheduled = new Map<string, string>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), a.activityType?.name ?? '');
  }
  return events.flatMap((e) => {
    const s = e.activityTaskStartedEventAttributes;
    return s && scheduled.get(String(s.scheduledEventId)) === activity ? [s.attempt ?? 0] : [];
  });
}

/** Attempt numbers of the local activity `activity` (the last attempt's, one per call). */
export function localAttemptsOf(events: HistoryEvent[], activity: string): number[] {
  return events.flatMap((e) => {
    const local = localActivityOf(e);
    return local?.type === activity ? [local.attempt] : [];
  });
}

/** The workflow's history as text, with every payload decoded (payload data is binary JSON). */
export async function decodedHistory(workflowId: string): Promise<string> {
  const history = await testStack().client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return JSON.stringify(history, (key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (key === 'data' && typeof value === 'string') return Buffer.from(value, 'base64').toString('utf8'); // proto JSON: bytes as base64
    const v = value as { type?: unknown; data?: unknown } | null;
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return Buffer.from(v.data as number[]).toString('utf8');
    return value;
  });
}

/** How often `marker` occurs in `text`. */
export function occurrences(text: string, marker: string): number {
  return text.split(marker).length - 1;
}
