/**
 * The worker process's whole configuration, parsed once from the environment with zod so a
 * typo fails at start with the variable named, not mid-task. Secrets stay in this object and
 * are never logged: {@link describeWorkerConfig} is the only view that reaches logs.
 */
import * as path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../temporal-config';
import { isPostgresUrl, redactDatabaseUrl } from '../db/client';

const booleanFlag = z
  .enum(['true', 'false', '1', '0', ''])
  .optional()
  .transform((v) => v === 'true' || v === '1');

const WorkerEnvSchema = z.object({
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TLS: booleanFlag,
  TEMPORAL_TLS_CERT: z.string().optional(),
  TEMPORAL_TLS_KEY: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  DATABASE_URL: z.string().refine(isPostgresUrl, 'DATABASE_URL must be a postgres:// URL').optional(),
  ARBITER_HOME: z.string().optional(),
  ARBITER_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

/** Parsed worker configuration. */
export interface WorkerConfig {
  temporal: { address: string; namespace: string; tls: boolean; tlsCertPath?: string; tlsKeyPath?: string; apiKey?: string };
  databaseUrl?: string;
  /** Root for workspaces and local state. */
  home: string;
  taskQueue: string;
  logLevel: 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

/** Thrown with every offending variable named. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration from `env` (the process environment by default). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): WorkerConfig {
  // `VAR=` means unset, as in most tools.
  const parsed = WorkerEnvSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      tls: e.TEMPORAL_TLS || Boolean(e.TEMPORAL_API_KEY),
      tlsCertPath: e.TEMPORAL_TLS_CERT,
      tlsKeyPath: e.TEMPORAL_TLS_KEY,
      apiKey: e.TEMPORAL_API_KEY,
    },
    databaseUrl: e.DATABASE_URL,
    home: path.resolve(cwd, e.ARBITER_HOME ?? '.arbiter'),
    taskQueue: e.ARBITER_TASK_QUEUE,
    logLevel: e.LOG_LEVEL,
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
    home: config.home,
    taskQueue: config.taskQueue,
  };
}
