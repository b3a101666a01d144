/**
 * The worker process's whole configuration, parsed once from the environment with zod so a
 * typo fails at start with the variable named, not mid-task. Secrets stay in this object and
 * are never logged: {@link describeWorkerConfig} is the only view that reaches logs.
 */
import { zodProblems } from '../domain/zod-issues';
import { DEFAULT_MODEL_KEYS, formatModelKeyRule, parseModelKeys, type ModelKeyRule } from '../domain/model-keys';
import * as path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../temporal-config';
import { SandboxEnvSchema, sandboxConfigFromEnv, type SandboxConfig } from '../host/sandbox/config';
import { defaultToolDirRoots } from '../host/sandbox/tool-dirs';
import { DatabaseUrlSchema, redactDatabaseUrl } from '../db/client';
import { DeploymentEnvSchema, deploymentFromEnv, type DeploymentConfig } from './deployment';
import { TracingEnvSchema, tracesDestination, tracingConfigFromEnv, type TracingConfig } from '../host/tracing';
import {
  TemporalEnvSchema,
  temporalProfileFromEnv,
  withoutEmptyValues,
  type TemporalProfile,
} from '../temporal-config/connection';

/**
 * Workflows a worker keeps in memory by default. The SDK's own default grows with the V8 heap
 * limit (about 2,300 where that limit is 4 GiB), so a worker kept every open task, about 1 MB
 * each by the SDK's documentation. 500 bounds the cached runs; an evicted one replays its
 * history at its next workflow task, which costs CPU, not correctness. It does not bound the
 * worker's whole RSS (bench/PERFORMANCE.md, *The worker's memory*).
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/**
 * The workflow thread's V8 heap limit by default, in MiB. V8 sizes it from the machine (4 GiB on
 * 24 GiB) and collects garbage only as the heap nears it, so a busy worker's RSS grew with
 * garbage; 500 cached runs need far less (about 45 KB each, bench/PERFORMANCE.md).
 */
export const DEFAULT_WORKFLOW_HEAP_MB = 512;
/** How long a stopping worker lets running work finish, unless configured. */
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 300;

/** The variables every Arbiter process that runs a worker reads; the CLI's schema extends it. */
export const WorkerEnvSchema = TemporalEnvSchema.merge(SandboxEnvSchema)
  .merge(TracingEnvSchema)
  .merge(DeploymentEnvSchema)
  .extend({
    DATABASE_URL: DatabaseUrlSchema.optional(),
    /** The owner's connection (migrations, registrations, grants); DATABASE_URL when unset. */
    ARBITER_ADMIN_DATABASE_URL: DatabaseUrlSchema.optional(),
    ARBITER_HOME: z.string().optional(),
    ARBITER_SIGNING_KEY_FILE: z.string().optional(),
    ARBITER_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
    /** Comma-separated `VARIABLE@host[:port]`: the model keys the gateway may send, each to its hosts (domain/model-keys.ts). */
    ARBITER_MODEL_KEYS: z
      .string()
      .optional()
      .transform((text, ctx): readonly ModelKeyRule[] => {
        if (text === undefined) return DEFAULT_MODEL_KEYS;
        const parsed = parseModelKeys(text);
        if ('rules' in parsed) return parsed.rules;
        for (const message of parsed.problems) ctx.addIssue({ code: z.ZodIssueCode.custom, message });
        return z.NEVER;
      }),
    /** Comma-separated `host` or `host:port` registries on the worker's own network that a policy's setup may reach. */
    ARBITER_PRIVATE_REGISTRIES: z.string().optional(),
    /** Comma-separated `host` or `host:port` key-less model upstreams on the worker's own network an agent may reach. */
    ARBITER_PRIVATE_UPSTREAMS: z.string().optional(),
    /** Comma-separated absolute folders an agent's `toolDirs` may lie under (host/sandbox/tool-dirs.ts); `,` for none. */
    ARBITER_TOOL_DIRS: z
      .string()
      .optional()
      .transform((text, ctx): string[] => {
        if (text === undefined) return defaultToolDirRoots();
        const dirs = text
          .split(',')
          .map((d) => d.trim())
          .filter(Boolean);
        for (const d of dirs.filter((d) => !path.isAbsolute(d)))
          ctx.addIssue({ code: z.ZodIssueCode.custom, message: `'${d}' is not an absolute path` });
        return dirs.map((d) => path.resolve(d));
      }),
    LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug', 'trace']).default('info'),
    /** Workflows kept in memory between their tasks (0: none, every task replays its history). */
    ARBITER_MAX_CACHED_WORKFLOWS: z.coerce
      .number()
      .int()
      .min(0)
      .refine((n) => n !== 1, 'must be 0 or at least 2')
      .default(DEFAULT_MAX_CACHED_WORKFLOWS),
    /** The workflow thread's V8 heap limit in MiB; too small for the cached runs fails the worker, so at least 128. */
    ARBITER_WORKFLOW_HEAP_MB: z.coerce.number().int().min(128).default(DEFAULT_WORKFLOW_HEAP_MB),
    /** Workspace steps (agent runs, gates, setups) this host runs at once; the SDK's 100 when unset. */
    ARBITER_HOST_CONCURRENCY: z.coerce.number().int().min(1).max(1000).optional(),
    /**
     * On SIGTERM/SIGINT the worker stops polling and lets running agents and gates finish for this
     * long before it cancels them and exits (a deploy drains instead of cutting work short).
     */
    ARBITER_SHUTDOWN_GRACE_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(24 * 3600)
      .default(DEFAULT_SHUTDOWN_GRACE_SECONDS),
    /** `host:port` the Prometheus endpoint (`/metrics`) listens on; no endpoint when unset. */
    ARBITER_METRICS_ADDRESS: z
      .string()
      .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 0.0.0.0:9464')
      .optional(),
  });

/** The parsed variables. */
export type WorkerEnv = z.output<typeof WorkerEnvSchema>;

/** Parsed worker configuration. */
export interface WorkerConfig {
  temporal: TemporalProfile;
  /** This process's own role: the worker's (every tenant) or the CLI's (the tenants granted to it). */
  databaseUrl?: string;
  /** The owner's connection: migrations and the admin commands. DATABASE_URL unless named. */
  adminDatabaseUrl?: string;
  /** Root for workspaces and local state. */
  home: string;
  /** Whether ARBITER_HOME named the home (else `./.arbiter` of the working folder). */
  homeNamed?: boolean;
  taskQueue: string;
  logLevel: WorkerEnv['LOG_LEVEL'];
  sandbox: SandboxConfig;
  /** Hours to keep workspaces of tasks that did not complete. */
  retentionHours: number;
  /** Reads an agent's secret by environment variable name (never logged, never stored). */
  secretEnv: (name: string) => string | undefined;
  /** The model keys the gateway may send, each to its hosts (ARBITER_MODEL_KEYS; the presets' own pairs when unset). */
  modelKeys: readonly ModelKeyRule[];
  /** Operator-supplied verdict signing key (PKCS8 PEM); Arbiter creates one under ARBITER_HOME otherwise. */
  signingKeyFile?: string;
  /** Registries on the worker's own network a setup may reach (any other private address is refused). */
  privateRegistries: string[];
  /** Key-less model upstreams on the worker's own network an agent may reach (any other such address is refused). */
  privateUpstreams: string[];
  /** Folders an agent's `toolDirs` may lie under (ARBITER_TOOL_DIRS; Arbiter's node_modules when unset). */
  toolDirRoots: string[];
  /** Workflows kept in memory between their tasks: bounds the worker's memory. */
  maxCachedWorkflows: number;
  /** The workflow thread's V8 heap limit, in MiB: what bounds the worker's memory under load. */
  workflowHeapMb: number;
  /**
   * Workspace steps this host runs at once: the rest wait on its queue, and one that waits past its
   * task's `hostLossTimeoutSeconds` has its workspace rebuilt on another host.
   */
  hostConcurrency?: number;
  /** How long a stopping worker lets running agents and gates finish before it cancels them. */
  shutdownGraceSeconds: number;
  /** Where the Prometheus endpoint listens; none when absent. */
  metricsAddress?: string;
  /** Where spans go (OTEL_EXPORTER_OTLP_*); tracing is off without an endpoint. */
  tracing: TracingConfig;
  /** This worker's deployment version (ARBITER_BUILD_ID); unversioned when absent. */
  deployment?: DeploymentConfig;
}

/** Thrown with every offending variable named. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `host` and `host:port` entries of a comma-separated list, as the gateway compares them. */
function hostList(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((r) => r.trim().toLowerCase())
    .filter(Boolean);
}

/** Reads the configuration from `env` (the process environment by default). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): WorkerConfig {
  const parsed = WorkerEnvSchema.safeParse(withoutEmptyValues(env));
  if (!parsed.success) {
    const problems = zodProblems(parsed.error);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  return workerConfigFromEnv(parsed.data, env, cwd, { temporalAddress: '127.0.0.1:7233' });
}

/** ARBITER_HOME, resolved against `cwd` (`.arbiter` when unset). */
export function homeFromEnv(e: WorkerEnv, cwd: string): string {
  return path.resolve(cwd, e.ARBITER_HOME ?? '.arbiter');
}

/**
 * The worker configuration parsed variables describe, with the endpoints to use when the
 * environment names none (the CLI passes the local stack's).
 */
export function workerConfigFromEnv(
  e: WorkerEnv,
  env: NodeJS.ProcessEnv,
  cwd: string,
  defaults: { temporalAddress: string; databaseUrl?: string; adminDatabaseUrl?: string },
): WorkerConfig {
  return {
    temporal: temporalProfileFromEnv(e, defaults.temporalAddress),
    databaseUrl: e.DATABASE_URL ?? defaults.databaseUrl,
    adminDatabaseUrl:
      e.ARBITER_ADMIN_DATABASE_URL ?? e.DATABASE_URL ?? defaults.adminDatabaseUrl ?? defaults.databaseUrl,
    home: homeFromEnv(e, cwd),
    homeNamed: Boolean(e.ARBITER_HOME),
    taskQueue: e.ARBITER_TASK_QUEUE,
    logLevel: e.LOG_LEVEL,
    sandbox: sandboxConfigFromEnv(e),
    retentionHours: e.ARBITER_WORKSPACE_RETENTION_HOURS,
    secretEnv: (name: string) => env[name] || undefined,
    modelKeys: e.ARBITER_MODEL_KEYS,
    signingKeyFile: e.ARBITER_SIGNING_KEY_FILE,
    privateRegistries: hostList(e.ARBITER_PRIVATE_REGISTRIES),
    privateUpstreams: hostList(e.ARBITER_PRIVATE_UPSTREAMS),
    toolDirRoots: e.ARBITER_TOOL_DIRS,
    maxCachedWorkflows: e.ARBITER_MAX_CACHED_WORKFLOWS,
    workflowHeapMb: e.ARBITER_WORKFLOW_HEAP_MB,
    hostConcurrency: e.ARBITER_HOST_CONCURRENCY,
    shutdownGraceSeconds: e.ARBITER_SHUTDOWN_GRACE_SECONDS,
    metricsAddress: e.ARBITER_METRICS_ADDRESS,
    tracing: tracingConfigFromEnv(e, 'arbiter'),
    deployment: deploymentFromEnv(e),
  };
}

/** The configuration with secrets removed, safe to log. */
export function describeWorkerConfig(config: WorkerConfig): Record<string, unknown> {
  return {
    temporalAddress: config.temporal.address,
    namespace: config.temporal.namespace,
    tls: config.temporal.tls,
    apiKey: config.temporal.apiKey ? '***' : undefined,
    database: config.databaseUrl ? redactDatabaseUrl(config.databaseUrl) : 'embedded',
    adminDatabase: config.adminDatabaseUrl ? redactDatabaseUrl(config.adminDatabaseUrl) : undefined,
    tenantNamespaces: config.temporal.tenantNamespaces,
    home: config.home,
    taskQueue: config.taskQueue,
    sandbox: config.sandbox.mode,
    modelKeys: config.modelKeys.map(formatModelKeyRule),
    toolDirRoots: config.toolDirRoots,
    maxCachedWorkflows: config.maxCachedWorkflows,
    workflowHeapMb: config.workflowHeapMb,
    hostConcurrency: config.hostConcurrency,
    shutdownGraceSeconds: config.shutdownGraceSeconds,
    metricsAddress: config.metricsAddress,
    tracesTo: tracesDestination(config.tracing),
    deployment: config.deployment,
  };
}
