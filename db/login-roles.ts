/**
 * Login roles for the application's two group roles (created by migration 0011): the worker's,
 * which sees every tenant, and a CLI's, which sees only the tenants granted to it. Used by
 * `arbiter start` for its local stack and by tests; production operators create their own.
 */
import { randomBytes } from 'node:crypto';
import type { Pool } from 'pg';

/** The group a login role joins: what row-level security lets it see. */
export type AppRole = 'arbiter_worker' | 'arbiter_cli';

/**
 * Creates login role `name` in `group` (or resets its password when it exists) and returns the
 * connection URL for it: `adminUrl` with the new user and a fresh random password.
 */
export async function ensureLoginRole(admin: Pool, adminUrl: string, name: string, group: AppRole): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`role name '${name}' is not plain`);
  const password = randomBytes(24).toString('hex');
  const exists = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  const verb = exists.rowCount ? 'ALTER' : 'CREATE';
  // Identifiers and passwords cannot be bound parameters; both are checked plain above.
  await admin.query(`${verb} ROLE "${name}" LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '${password}'`);
  await admin.query(`GRANT ${group} TO "${name}"`);
  const url = new URL(adminUrl);
  url.username = name;
  url.password = password;
  return url.toString();
}
