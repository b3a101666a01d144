/**
 * The CLI/client process's configuration, parsed once from the environment. Without
 * TEMPORAL_ADDRESS / DATABASE_URL it uses the local stack `arbiter start` records in
 * `<ARBITER_HOME>/stack.json`, so commands in a second terminal just work.
 */
import { zodProblems } from '../domain/zod-issues';
import { checkoutCarriedReason, type ArbiterHome } from '../host/checkout-carried';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { withoutEmptyValues } from '../temporal-config/connection';
import { WorkerEnvSchema, homeFromEnv, workerConfigFromEnv, type WorkerConfig } from '../workers/config';

const ClientEnvSchema = WorkerEnvSchema.extend({
  ARBITER_TENANT: z.string().min(1).default('default'),
  ARBITER_TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  ARBITER_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  ARBITER_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  /** The approver's ssh-agent, which signs waiver decisions without the key leaving it. */
  SSH_AUTH_SOCK: z.string().optional(),
  ARBITER_TRUSTED_KEYS: z.string().min(1).optional(),
}).superRefine(refuseSharedLocalPorts);

/** Two servers of the local stack on one port: the second cannot start, and would say only that it exited. */
function refuseSharedLocalPorts(
  e: { ARBITER_TEMPORAL_PORT: number; ARBITER_UI_PORT: number; ARBITER_PG_PORT: number },
  ctx: z.RefinementCtx,
): void {
  const seen = new Map<number, string>();
  for (const name of ['ARBITER_TEMPORAL_PORT', 'ARBITER_UI_PORT', 'ARBITER_PG_PORT'] as const) {
    const other = seen.get(e[name]);
    if (other) ctx.addIssue({ code: 'custom', path: [name], message: `is ${e[name]}, the same port as ${other}` });
    seen.set(e[name], name);
  }
}

/**
 * What `arbiter start` writes (0600) so other commands can find the local stack: the CLI's
 * login role (`databaseUrl`, granted the default tenant), the in-process worker's, and the owner's.
 */
export interface LocalStackInfo {
  temporalAddress: string;
  databaseUrl: string;
  workerDatabaseUrl?: string;
  adminDatabaseUrl?: string;
  uiUrl?: string;
}

/** Parsed client configuration: a worker's (`arbiter start` runs one in-process) and the CLI's own. */
export interface ClientConfig extends WorkerConfig {
  defaultTenant: string;
  /** Ports `arbiter start` uses for what it starts itself. */
  localPorts: { temporal: number; ui: number; postgres: number };
  /** The ssh-agent socket, when one runs. */
  sshAuthSock?: string;
  /** The keyring `verdict verify` trusts: ARBITER_TRUSTED_KEYS, else `<ARBITER_HOME>/trusted-keys`. */
  trustedKeysFile: string;
  /** Which endpoints the environment named (rather than the local stack or a default). */
  explicit: { temporal: boolean; database: boolean; trustedKeys: boolean };
}

/** Where the local stack description lives. */
export function stackFile(home: string): string {
  return path.join(home, 'stack.json');
}

/**
 * The local stack `arbiter start` described, unless the description came with a checkout (the
 * default home is `./.arbiter`): it would point every command at a Temporal and a database its
 * authors chose, to submit tasks to and read verdicts from. Such a file is refused, or left
 * unread when the environment names both endpoints.
 */
function readLocalStack(home: ArbiterHome, endpointsNamed: boolean): LocalStackInfo | undefined {
  const file = stackFile(home.path);
  if (!existsSync(file)) return undefined;
  const carried = checkoutCarriedReason(file, home);
  if (carried && endpointsNamed) return undefined;
  if (carried)
    throw new Error(
      `${file} ${carried}: a stack description that comes with a checkout is not used; ` +
        'remove it from the repository, or set ARBITER_HOME to a folder of your own',
    );
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
  const home = homeFromEnv(e, cwd);
  const endpointsNamed = Boolean(e.TEMPORAL_ADDRESS && e.DATABASE_URL);
  const local = readLocalStack({ path: home, named: Boolean(e.ARBITER_HOME) }, endpointsNamed);
  return {
    ...workerConfigFromEnv(e, env, cwd, {
      temporalAddress: local?.temporalAddress ?? '127.0.0.1:7233',
      databaseUrl: local?.databaseUrl,
      adminDatabaseUrl: local?.adminDatabaseUrl,
    }),
    defaultTenant: e.ARBITER_TENANT,
    trustedKeysFile: path.resolve(cwd, e.ARBITER_TRUSTED_KEYS ?? path.join(home, 'trusted-keys')),
    localPorts: { temporal: e.ARBITER_TEMPORAL_PORT, ui: e.ARBITER_UI_PORT, postgres: e.ARBITER_PG_PORT },
    sshAuthSock: e.SSH_AUTH_SOCK,
    explicit: {
      temporal: Boolean(e.TEMPORAL_ADDRESS),
      database: Boolean(e.DATABASE_URL),
      trustedKeys: Boolean(e.ARBITER_TRUSTED_KEYS),
    },
  };
}
