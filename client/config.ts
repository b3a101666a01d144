/**
 * The CLI/client process's configuration, parsed once from the environment. Without
 * TEMPORAL_ADDRESS / DATABASE_URL it uses the local stack `arbiter start` records in
 * `<ARBITER_HOME>/stack.json`, so commands in a second terminal just work.
 */
import { zodProblems } from '../domain/zod-issues';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../temporal-config';
import { TemporalEnvSchema, temporalProfileFromEnv, withoutEmptyValues, type TemporalProfile } from '../temporal-config/connection';
import { SandboxEnvSchema, sandboxConfigFromEnv, type SandboxConfig } from '../host/sandbox/config';
import { DatabaseUrlSchema } from '../db/client';

const ClientEnvSchema = TemporalEnvSchema.merge(SandboxEnvSchema).extend({
  DATABASE_URL: DatabaseUrlSchema.optional(),
  ARBITER_HOME: z.string().optional(),
  ARBITER_SIGNING_KEY_FILE: z.string().optional(),
  ARBITER_TASK_QUEUE: z.string().min(1).default(DEFAULT_TASK_QUEUE),
  ARBITER_TENANT: z.string().min(1).default('default'),
  ARBITER_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  ARBITER_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  ARBITER_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

/** What `arbiter start` writes so other commands can find the local stack. */
export interface LocalStackInfo {
  temporalAddress: string;
  databaseUrl: string;
  uiUrl?: string;
}

/** Parsed client configuration. */
export interface ClientConfig {
  temporal: TemporalProfile;
  databaseUrl?: string;
  home: string;
  taskQueue: string;
  defaultTenant: string;
  /** Confinement for the in-process worker (`arbiter start`) and `arbiter sandbox exec`. */
  sandbox: SandboxConfig;
  /** Hours to keep workspaces of tasks that did not complete. */
  retentionHours: number;
  /** Reads an agent's secret by environment variable name (never logged, never stored). */
  secretEnv: (name: string) => string | undefined;
  /** Operator-supplied verdict signing key (PKCS8 PEM); Arbiter creates one under ARBITER_HOME otherwise. */
  signingKeyFile?: string;
  /** Level of the in-process worker's log (`arbiter start`). */
  logLevel: 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Ports `arbiter start` uses for what it starts itself. */
  localPorts: { temporal: number; ui: number; postgres: number };
  /** Which endpoints the environment named (rather than the local stack or a default). */
  explicit: { temporal: boolean; database: boolean };
}

/** Where the local stack description lives. */
export function stackFile(home: string): string {
  return path.join(home, 'stack.json');
}

function readLocalStack(home: string): LocalStackInfo | undefined {
  const file = stackFile(home);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LocalStackInfo;
  } catch {
    return undefined;
  }
}

/** Reads the configuration; throws naming every bad variable. */
export function loadClientConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ClientConfig {
  const parsed = ClientEnvSchema.safeParse(withoutEmptyValues(env));
  if (!parsed.success) {
    throw new Error(`invalid environment: ${zodProblems(parsed.error).join('; ')}`);
  }
  const e = parsed.data;
  const home = path.resolve(cwd, e.ARBITER_HOME ?? '.arbiter');
  const local = readLocalStack(home);
  return {
    temporal: temporalProfileFromEnv(e, local?.temporalAddress ?? '127.0.0.1:7233'),
    databaseUrl: e.DATABASE_URL ?? local?.databaseUrl,
    home,
    taskQueue: e.ARBITER_TASK_QUEUE,
    defaultTenant: e.ARBITER_TENANT,
    logLevel: e.LOG_LEVEL,
    sandbox: sandboxConfigFromEnv(e),
    retentionHours: e.ARBITER_WORKSPACE_RETENTION_HOURS,
    secretEnv: (name: string) => env[name] || undefined,
    signingKeyFile: e.ARBITER_SIGNING_KEY_FILE,
    localPorts: { temporal: e.ARBITER_TEMPORAL_PORT, ui: e.ARBITER_UI_PORT, postgres: e.ARBITER_PG_PORT },
    explicit: { temporal: Boolean(e.TEMPORAL_ADDRESS), database: Boolean(e.DATABASE_URL) },
  };
}
