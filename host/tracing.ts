/**
 * OpenTelemetry tracing for Arbiter's processes: one trace follows a task from `arbiter submit`
 * through its workflow, every activity, each gate and each model call. Temporal's interceptors
 * carry the context across processes in workflow and activity headers; within a process it
 * follows the async call chain, so a gate run inside an activity is that activity's child.
 *
 * Off unless an OTLP endpoint is configured: the API then hands out non-recording spans, and
 * nothing is exported or propagated.
 */
import * as otel from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';

/** The tracer Arbiter's own spans (gates, model calls, submit) come from. */
const TRACER_NAME = 'arbiter';

/** A process's tracing, once registered: where spans go and how to flush them at exit. */
export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Exports what is buffered and stops; the process calls it before it exits. */
  shutdown(): Promise<void>;
}

/**
 * The standard OpenTelemetry variables Arbiter's processes read for traces. Arbiter adds none
 * of its own: collectors and operators already set these.
 */
export const TracingEnvSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

/** Where a process sends its spans (none: tracing off) and under which service name. */
export interface TracingConfig {
  otlpTracesUrl?: string;
  serviceName: string;
}

/** The traces endpoint the variables name: the traces-specific one, else `/v1/traces` under the base. */
export function tracingConfigFromEnv(e: z.output<typeof TracingEnvSchema>, serviceName: string): TracingConfig {
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/$/, '');
  return {
    otlpTracesUrl: e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base}/v1/traces` : undefined),
    serviceName: e.OTEL_SERVICE_NAME ?? serviceName,
  };
}

/** Where spans go, safe to log: the endpoint without credentials or query; undefined when off. */
export function tracesDestination(config: TracingConfig): string | undefined {
  if (!config.otlpTracesUrl) return undefined;
  const url = new URL(config.otlpTracesUrl);
  return `${url.origin}${url.pathname}`;
}

/**
 * Makes `spanProcessor` the process's tracing: the global tracer provider, the async context
 * manager (so the active span follows awaits) and the W3C propagator Temporal's interceptors
 * use for headers. Registering replaces an earlier registration (tests register their own).
 */
export function registerTracing(serviceName: string, spanProcessor: SpanProcessor): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  otel.trace.disable();
  otel.context.disable();
  otel.propagation.disable();
  otel.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  otel.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  otel.trace.setGlobalTracerProvider(provider);
  return { resource, spanProcessor, shutdown: () => provider.shutdown() };
}

/** Registers OTLP export when the configuration names an endpoint; undefined (tracing off) otherwise. */
export function startTracing(config: TracingConfig): Tracing | undefined {
  if (!config.otlpTracesUrl) return undefined;
  const exporter = new OTLPTraceExporter({ url: config.otlpTracesUrl });
  return registerTracing(config.serviceName, new BatchSpanProcessor(exporter));
}

/**
 * What a span keeps of an error: its type and the first line, bounded. A whole message can carry
 * what spans must not (a failed query's message holds its parameters: prompts, answers).
 */
function spanError(err: unknown): string {
  const e = err as Error;
  const line = String(e?.message ?? e).split('\n', 1)[0];
  return `${e?.name ?? 'Error'}: ${line.slice(0, 200)}`;
}

/**
 * Runs `fn` inside a span named `name`, child of the active span (or of `parent`). The span
 * records a thrown error's type and first line and ends when `fn` settles.
 */
export function inSpan<T>(
  name: string,
  attributes: otel.Attributes,
  fn: (span: otel.Span) => Promise<T>,
  parent: otel.Context = otel.context.active(),
): Promise<T> {
  return otel.trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: spanError(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * A tracer that asks for the process's registered tracing at each span, so a client connected
 * before tracing was registered (or re-registered, as tests do) still records its spans.
 */
export function clientTracer(): otel.Tracer {
  const now = () => otel.trace.getTracer(TRACER_NAME);
  return {
    startSpan: (...args) => now().startSpan(...args),
    startActiveSpan: ((...args: Parameters<otel.Tracer['startActiveSpan']>) =>
      (now().startActiveSpan as (...a: unknown[]) => unknown)(...args)) as otel.Tracer['startActiveSpan'],
  };
}

/** The active context, kept by whoever starts work that later continues outside this call chain. */
export function activeTraceContext(): otel.Context {
  return otel.context.active();
}
