/**
 * What a worker process exposes to its operators besides logs: the Temporal runtime's metrics
 * (and Arbiter's, which go through the same meter) on a Prometheus endpoint, and the
 * interceptors and sink that put its workflows and activities into traces.
 */
import { NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Resource } from '@opentelemetry/resources';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import { Runtime, type WorkerOptions } from '@temporalio/worker';
import { reportSandboxAvailable, useMetricMeter } from '../host/metrics';
import { sandboxProbe } from '../host/sandbox/bwrap';
import type { SandboxConfig } from '../host/sandbox/config';
import { withOneOffSandboxUser } from '../host/sandbox/uid-leases';
import type { Tracing } from '../host/tracing';
import { createWinstonLogger, WinstonTemporalLogger, type LoggerOptions } from './logger';

/** Buckets for Arbiter's histograms, sized for tasks (minutes, not milliseconds) and their histories. */
const ARBITER_BUCKETS: Record<string, number[]> = {
  arbiter_task_duration: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400],
  arbiter_workflow_history_size: [16e3, 64e3, 256e3, 1e6, 4e6, 16e6, 50e6],
  arbiter_workflow_history_events: [50, 100, 250, 500, 1000, 2500, 10000, 50000],
  arbiter_task_tokens: [1e3, 1e4, 5e4, 1e5, 5e5, 1e6, 5e6],
  arbiter_task_cost_usd: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50],
};

/**
 * Installs the process's Temporal runtime: logs bridged to winston and, given an address, a
 * Prometheus endpoint at `http://<address>/metrics`. Names follow what Temporal's alerting
 * guidance assumes: counters end in `_total`, durations are in seconds with the unit in the
 * name. Must run before any worker or native connection exists.
 */
export function installWorkerRuntime(options: LoggerOptions & { metricsAddress?: string }): WinstonTemporalLogger {
  const logger = new WinstonTemporalLogger(createWinstonLogger(options));
  const metrics = options.metricsAddress
    ? {
        prometheus: {
          bindAddress: options.metricsAddress,
          countersTotalSuffix: true,
          unitSuffix: true,
          useSecondsForDurations: true,
          histogramBucketOverrides: ARBITER_BUCKETS,
        },
      }
    : undefined;
  Runtime.install({ logger, telemetryOptions: { metrics } });
  useMetricMeter(Runtime.instance().metricMeter);
  return logger;
}

/** Where workflow spans go when the process traces nothing: dropped at the sink. */
const UNTRACED = { spanProcessor: new NoopSpanProcessor(), resource: Resource.empty() };

/**
 * The interceptors and the span sink every Arbiter worker registers, traced or not: the sink
 * must exist wherever a bundle with the workflow interceptors may run (workers/workflow-bundle.ts),
 * and untraced it drops what it gets.
 */
export function tracingWorkerOptions(tracing?: Pick<Tracing, 'spanProcessor' | 'resource'>): {
  interceptors: NonNullable<WorkerOptions['interceptors']>;
  sinks: NonNullable<WorkerOptions['sinks']>;
} {
  const { spanProcessor, resource } = tracing ?? UNTRACED;
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(spanProcessor, resource) },
  };
}

/**
 * Probes confinement once at start, so `arbiter_sandbox_available` says from the first scrape
 * whether this worker can run commands (a worker without a sandbox fails every task's gates).
 */
export async function reportSandboxAtStart(home: string, sandbox: SandboxConfig): Promise<void> {
  const logger = Runtime.instance().logger;
  if (sandbox.mode === 'unsafe-none') {
    reportSandboxAvailable(false);
    logger.warn('UNSAFE: commands will run WITHOUT a sandbox (ARBITER_SANDBOX=unsafe-none); development only');
    return;
  }
  const probe = await withOneOffSandboxUser(home, sandbox.uids, async (user) => sandboxProbe(sandbox, user)).catch(
    (err: Error) => ({ ok: false, reason: err.message }),
  );
  if (!probe.ok) {
    reportSandboxAvailable(false);
    logger.error('the sandbox does not work on this host: every command will be refused', { reason: probe.reason });
  }
}
