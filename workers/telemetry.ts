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
import type { Tracing } from '../host/tracing';
import { createWinstonLogger, WinstonTemporalLogger, type LoggerOptions } from './logger';

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
        },
      }
    : undefined;
  Runtime.install({ logger, telemetryOptions: { metrics } });
  return logger;
}

/** Where workflow spans go when the process traces nothing: dropped at the sink. */
const UNTRACED = { spanProcessor: new NoopSpanProcessor(), resource: Resource.empty() };

/**
 * The interceptors and the span sink every Arbiter worker registers, traced or not. The
 * workflow bundle always carries the workflow interceptors (workers/workflow-bundle.ts), so
 * every worker, replayers included, must register the sink they export through.
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
