/**
 * Where a task's time goes, read from the histories of finished tasks: per activity type, how
 * long it waited in the task queue (scheduled → started) and ran (started → completed); per
 * local activity type, how long it ran (from the workflow task that scheduled it, or the local
 * activity before it in that task, to its recorded completion). Plus the worker process's CPU time.
 */
import type { Client } from '@temporalio/client';
import { childrenNamed, cpuSeconds, machineBusySeconds, spawnersOf, treeCpuSeconds } from './proc';

interface Timing {
  count: number;
  waitMs: number;
  runMs: number;
}

/** Per activity type (local ones prefixed `local `), totals over the histories read. */
export type Profile = Map<string, Timing>;

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

const ms = (e: HistoryEvent): number => {
  const t = e.eventTime as { seconds?: number | { toNumber(): number }; nanos?: number } | null | undefined;
  const s = typeof t?.seconds === 'object' ? t.seconds.toNumber() : Number(t?.seconds ?? 0);
  return s * 1000 + (t?.nanos ?? 0) / 1e6;
};

function add(profile: Profile, type: string, waitMs: number, runMs: number): void {
  const t = profile.get(type) ?? { count: 0, waitMs: 0, runMs: 0 };
  profile.set(type, { count: t.count + 1, waitMs: t.waitMs + waitMs, runMs: t.runMs + runMs });
}

/** A local activity marker's type and completion time (ms), from the core SDK's marker data. */
function localMarker(e: HistoryEvent): { type: string; completedMs: number } | undefined {
  const attrs = e.markerRecordedEventAttributes;
  if (attrs?.markerName !== 'core_local_activity') return undefined;
  const data = attrs.details?.data?.payloads?.[0]?.data;
  if (!data) return undefined;
  const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as {
    activity_type?: string;
    complete_time?: { seconds?: number | string; nanos?: number } | string;
  };
  const ct = parsed.complete_time;
  const completedMs =
    typeof ct === 'string' ? Date.parse(ct) : Number(ct?.seconds ?? 0) * 1000 + (ct?.nanos ?? 0) / 1e6;
  return { type: parsed.activity_type ?? 'unknown', completedMs };
}

/** Adds one history's timings to `profile`. */
function addHistory(profile: Profile, events: HistoryEvent[]): void {
  const scheduled = new Map<number, { type: string; at: number }>();
  const started = new Map<number, number>();
  let anchor = 0;
  for (const e of events) {
    if (e.workflowTaskStartedEventAttributes) anchor = ms(e);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) scheduled.set(Number(e.eventId), { type: sched.activityType?.name ?? 'unknown', at: ms(e) });
    const start = e.activityTaskStartedEventAttributes;
    if (start) started.set(Number(start.scheduledEventId), ms(e));
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(Number(done.scheduledEventId));
      const st = started.get(Number(done.scheduledEventId));
      if (s && st) add(profile, s.type, st - s.at, ms(e) - st);
    }
    const local = localMarker(e);
    if (local) {
      add(profile, `local ${local.type}`, 0, Math.max(0, local.completedMs - anchor));
      anchor = Math.max(anchor, local.completedMs);
    }
  }
}

/** The profile of up to `limit` of the workflows `ids` (their histories read one at a time). */
export async function profileHistories(client: Client, ids: string[], limit = 50): Promise<Profile> {
  const profile: Profile = new Map();
  for (const id of ids.slice(0, limit)) {
    const { events } = await client.workflow.getHandle(id).fetchHistory();
    addHistory(profile, events ?? []);
  }
  return profile;
}

/** The profile as a table, slowest run time first: mean wait and mean run per call, share of the total. */
export function describeProfile(profile: Profile, tasks: number): string {
  const rows = [...profile.entries()].sort((a, b) => b[1].runMs - a[1].runMs);
  const total = rows.reduce((sum, [, t]) => sum + t.runMs + t.waitMs, 0);
  const lines = rows.map(([type, t]) => {
    const share = ((100 * (t.runMs + t.waitMs)) / total).toFixed(1);
    return (
      `  ${type.padEnd(32)} ${String(t.count / tasks).padStart(4)}/task  wait ${(t.waitMs / t.count).toFixed(0).padStart(6)} ms` +
      `  run ${(t.runMs / t.count).toFixed(0).padStart(6)} ms  ${share.padStart(5)} %`
    );
  });
  return [`per activity, mean over ${tasks} tasks (wait = queued before a worker took it):`, ...lines].join('\n');
}

/** A worker process's CPU, and its subprocesses': its spawners and what they ran count as those. */
function cpuNow(pid: number): { self: number; children: number } {
  const own = cpuSeconds(pid);
  const helpers = spawnersOf(pid).map(cpuSeconds);
  return { self: own.self, children: helpers.reduce((sum, h) => sum + h.self + h.children, own.children) };
}

/** Measures the CPU time of worker `pid` from now; `stop` returns seconds spent by it and by its subprocesses. */
export function cpuMeter(pid: number): { stop(): { self: number; children: number } } {
  const start = cpuNow(pid);
  return {
    stop() {
      const end = cpuNow(pid);
      return { self: end.self - start.self, children: end.children - start.children };
    },
  };
}

/**
 * CPU seconds from now of the benchmark's own Temporal dev server and PostgreSQL (each with its
 * subprocesses), where a task's cost goes besides the worker, and of everything outside the
 * benchmark's processes: a server given by `--address` (not this process's child) and whatever
 * else shares the machine.
 */
export function serviceCpuMeter(): { stop(): { temporal: number; postgres: number; elsewhere: number } } {
  const now = (word: string) => childrenNamed(process.pid, word).reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const outside = () => machineBusySeconds() - treeCpuSeconds(process.pid);
  const start = { temporal: now('temporal'), postgres: now('postgres'), elsewhere: outside() };
  return {
    stop: () => ({
      temporal: now('temporal') - start.temporal,
      postgres: now('postgres') - start.postgres,
      elsewhere: outside() - start.elsewhere,
    }),
  };
}
