/**
 * Every metric the dashboards and alert rules in ops/ may name, as Prometheus stores it.
 *
 * A query over a name nothing exports is not an error in Prometheus: it is an empty result, so a
 * misspelt alert never fires and a panel stays blank. test/deploy/observability.test.ts therefore
 * refuses any name not listed here, and a live test checks that the worker's ones really appear
 * on its /metrics.
 *
 * Arbiter's names are those workflows/task-metrics.ts, host/metrics.ts and activities/maintenance.ts
 * create on the runtime's meter (which adds `_total` and the unit the same way as for the SDK's).
 *
 * The Temporal SDK names are those the TypeScript SDK (1.24, sdk-core's Prometheus exporter) serves
 * with `countersTotalSuffix`, `unitSuffix` and `useSecondsForDurations` all on: prefix `temporal_`,
 * counters ending `_total`, duration histograms in seconds ending `_seconds`, gauges bare. Seen on
 * a real worker's /metrics, except the request-failure counters (named by sdk-core's client
 * metrics and Temporal's "Alerting on Worker metrics" page). The server names are those
 * `temporalio/server` serves on PROMETHEUS_ENDPOINT (tally reporter: no prefix, no `_total`),
 * seen on a real server's endpoint.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Who exports it: the worker's endpoint (`arbiter`, `sdk`), the server's, or Prometheus itself. */
export type MetricSource = 'arbiter' | 'sdk' | 'server' | 'prometheus';

export interface KnownMetric {
  /** As in the `# TYPE` line of /metrics; a histogram's series add `_bucket`, `_sum`, `_count`. */
  name: string;
  type: MetricType;
  source: MetricSource;
  /**
   * Set when the series exists only once something happened: an exporter prints no family
   * without samples, so a live check must cause this first (or not expect it).
   */
  onlyAfter?: string;
}

export const KNOWN_METRICS: readonly KnownMetric[] = [
  // Arbiter's own, on the worker's ARBITER_METRICS_ADDRESS.
  { name: 'arbiter_task_state_entered_total', type: 'counter', source: 'arbiter' },
  { name: 'arbiter_tasks_ended_total', type: 'counter', source: 'arbiter' },
  { name: 'arbiter_task_duration_seconds', type: 'histogram', source: 'arbiter' },
  { name: 'arbiter_verdicts_total', type: 'counter', source: 'arbiter' },
  // Labels kind and status (pass, fail, warn, skipped, or waived when a waiver covered it).
  { name: 'arbiter_gate_results_total', type: 'counter', source: 'arbiter' },
  { name: 'arbiter_waivers_requested_total', type: 'counter', source: 'arbiter', onlyAfter: 'a task asked a waiver' },
  // Label decision: approved, rejected, expired.
  { name: 'arbiter_waivers_decided_total', type: 'counter', source: 'arbiter', onlyAfter: 'a waiver was decided' },
  {
    name: 'arbiter_waivers_expiring_soon',
    type: 'gauge',
    source: 'arbiter',
    onlyAfter: 'the waiver-expiry schedule ran on this worker',
  },
  {
    name: 'arbiter_waiver_expiry_checked_timestamp_seconds',
    type: 'gauge',
    source: 'arbiter',
    onlyAfter: 'the waiver-expiry schedule ran on this worker',
  },
  {
    name: 'arbiter_provenance_chains_broken',
    type: 'gauge',
    source: 'arbiter',
    onlyAfter: 'the provenance-checkpoint schedule ran on this worker',
  },
  {
    name: 'arbiter_provenance_checkpoint_timestamp_seconds',
    type: 'gauge',
    source: 'arbiter',
    onlyAfter: 'the provenance-checkpoint schedule ran on this worker',
  },
  { name: 'arbiter_sandbox_refusals_total', type: 'counter', source: 'arbiter' },
  { name: 'arbiter_sandbox_available', type: 'gauge', source: 'arbiter' },
  // One observation per task that used a model, label agent: `_sum` is the running total.
  { name: 'arbiter_task_tokens', type: 'histogram', source: 'arbiter' },
  { name: 'arbiter_task_cost_usd', type: 'histogram', source: 'arbiter' },
  { name: 'arbiter_workflow_history_size_bytes', type: 'histogram', source: 'arbiter' },
  { name: 'arbiter_workflow_history_events', type: 'histogram', source: 'arbiter' },
  { name: 'arbiter_routing_decisions_total', type: 'counter', source: 'arbiter' },

  // The Temporal SDK's, on the same endpoint.
  { name: 'temporal_workflow_task_schedule_to_start_latency_seconds', type: 'histogram', source: 'sdk' },
  { name: 'temporal_activity_schedule_to_start_latency_seconds', type: 'histogram', source: 'sdk' },
  { name: 'temporal_workflow_task_execution_latency_seconds', type: 'histogram', source: 'sdk' },
  { name: 'temporal_activity_execution_latency_seconds', type: 'histogram', source: 'sdk' },
  { name: 'temporal_workflow_endtoend_latency_seconds', type: 'histogram', source: 'sdk' },
  { name: 'temporal_worker_task_slots_available', type: 'gauge', source: 'sdk' },
  { name: 'temporal_worker_task_slots_used', type: 'gauge', source: 'sdk' },
  { name: 'temporal_num_pollers', type: 'gauge', source: 'sdk' },
  { name: 'temporal_sticky_cache_size', type: 'gauge', source: 'sdk' },
  { name: 'temporal_sticky_cache_hit_total', type: 'counter', source: 'sdk' },
  { name: 'temporal_workflow_completed_total', type: 'counter', source: 'sdk' },
  { name: 'temporal_workflow_failed_total', type: 'counter', source: 'sdk', onlyAfter: 'a workflow failed' },
  {
    name: 'temporal_workflow_task_execution_failed_total',
    type: 'counter',
    source: 'sdk',
    onlyAfter: 'a workflow task failed',
  },
  {
    name: 'temporal_activity_execution_failed_total',
    type: 'counter',
    source: 'sdk',
    onlyAfter: 'an activity attempt failed',
  },
  { name: 'temporal_request_failure_total', type: 'counter', source: 'sdk', onlyAfter: 'a Temporal RPC failed' },
  {
    name: 'temporal_long_request_failure_total',
    type: 'counter',
    source: 'sdk',
    onlyAfter: 'a long poll failed',
  },

  // The Temporal server's (matching service), on the temporal service's PROMETHEUS_ENDPOINT.
  { name: 'poll_success', type: 'counter', source: 'server' },
  { name: 'poll_success_sync', type: 'counter', source: 'server' },
  { name: 'poll_timeouts', type: 'counter', source: 'server' },
  { name: 'approximate_backlog_count', type: 'gauge', source: 'server' },
  { name: 'approximate_backlog_age_seconds', type: 'gauge', source: 'server' },

  // Series Prometheus makes itself: one `up` per scrape target, `ALERTS` per pending/firing alert.
  { name: 'up', type: 'gauge', source: 'prometheus' },
  { name: 'ALERTS', type: 'gauge', source: 'prometheus' },
];

const namesFrom = (...sources: MetricSource[]): readonly string[] =>
  KNOWN_METRICS.filter((m) => sources.includes(m.source)).map((m) => m.name);

/** Names the worker's /metrics must show (Arbiter's and the SDK's); histograms by base name. */
export const WORKER_METRICS: readonly string[] = namesFrom('arbiter', 'sdk');

/** Names the Temporal server's metrics endpoint must show. */
export const SERVER_METRICS: readonly string[] = namesFrom('server');

/** Series Prometheus itself produces, not scraped from anyone. */
export const PROMETHEUS_METRICS: readonly string[] = namesFrom('prometheus');

const BY_NAME = new Map(KNOWN_METRICS.map((m) => [m.name, m]));

/** Suffixes of a Prometheus histogram's series. */
export const HISTOGRAM_SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/**
 * What a series name in a query refers to: the metric, and for a histogram's series the suffix
 * used. Undefined when no known metric explains the name.
 */
export function resolveSeries(series: string): { metric: KnownMetric; suffix?: string } | undefined {
  const exact = BY_NAME.get(series);
  if (exact) return { metric: exact };
  for (const suffix of HISTOGRAM_SERIES_SUFFIXES) {
    const metric = series.endsWith(suffix) ? BY_NAME.get(series.slice(0, -suffix.length)) : undefined;
    if (metric?.type === 'histogram') return { metric, suffix };
  }
  return undefined;
}
