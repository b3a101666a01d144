/**
 * Registered repositories and tenant grants: the admin writes them (`arbiter repos add`,
 * `arbiter tenants grant`), the worker resolves a task's repository name through them, and the
 * CLI lists a tenant's repositories under row-level security.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from './client';
import { repos, tenantMembers } from './schema';

/** A registered repository. */
export type RepoRecord = typeof repos.$inferSelect;

/**
 * Registers `name` for `tenantId` at `path` (already resolved and checked); false when the name
 * is taken. `replace` moves an existing name to the new path instead (the local demo's repository).
 */
export async function addRepo(
  db: Db,
  repo: { tenantId: string; name: string; path: string },
  options: { replace?: boolean } = {},
): Promise<boolean> {
  const insert = db.insert(repos).values(repo);
  const written = await (
    options.replace
      ? insert.onConflictDoUpdate({ target: [repos.tenantId, repos.name], set: { path: repo.path } })
      : insert.onConflictDoNothing()
  ).returning({ name: repos.name });
  return written.length === 1;
}

/** The tenant's repository called `name`; undefined for any other tenant's, so names never leak across tenants. */
export async function findRepo(db: Db, tenantId: string, name: string): Promise<RepoRecord | undefined> {
  const [row] = await db
    .select()
    .from(repos)
    .where(and(eq(repos.tenantId, tenantId), eq(repos.name, name)));
  return row;
}

/** The tenants with a repository registered at `path`. */
export async function tenantsAtRepoPath(db: Db, path: string): Promise<string[]> {
  const rows = await db.selectDistinct({ tenantId: repos.tenantId }).from(repos).where(eq(repos.path, path));
  return rows.map((r) => r.tenantId);
}

/** Whether `path` is one of the tenant's registered repositories. */
export async function isTenantRepoPath(db: Db, tenantId: string, path: string): Promise<boolean> {
  const [row] = await db
    .select({ name: repos.name })
    .from(repos)
    .where(and(eq(repos.tenantId, tenantId), eq(repos.path, path)))
    .limit(1);
  return row !== undefined;
}

/** The tenant's repositories by name. */
export async function listRepos(db: Db, tenantId: string): Promise<RepoRecord[]> {
  return db.select().from(repos).where(eq(repos.tenantId, tenantId)).orderBy(asc(repos.name));
}

/** Removes the registration; false when there was none. Tasks already running stop at their next step that reads the repository. */
export async function removeRepo(db: Db, tenantId: string, name: string): Promise<boolean> {
  const removed = await db
    .delete(repos)
    .where(and(eq(repos.tenantId, tenantId), eq(repos.name, name)))
    .returning({ name: repos.name });
  return removed.length === 1;
}

/** Lets database role `roleName` (and its members) read `tenantId` through the CLI role; false when no such role exists. */
export async function grantTenant(db: Db, roleName: string, tenantId: string): Promise<boolean> {
  const role = await db.execute(sql`SELECT 1 FROM pg_roles WHERE rolname = ${roleName}`);
  if (role.rows.length === 0) return false;
  await db.insert(tenantMembers).values({ roleName, tenantId }).onConflictDoNothing();
  return true;
}

/** Withdraws a grant; false when there was none. */
export async function revokeTenant(db: Db, roleName: string, tenantId: string): Promise<boolean> {
  const removed = await db
    .delete(tenantMembers)
    .where(and(eq(tenantMembers.roleName, roleName), eq(tenantMembers.tenantId, tenantId)))
    .returning({ role: tenantMembers.roleName });
  return removed.length === 1;
}

/** Every grant, by role then tenant. */
export async function listTenantGrants(db: Db): Promise<Array<{ roleName: string; tenantId: string }>> {
  return db
    .select({ roleName: tenantMembers.roleName, tenantId: tenantMembers.tenantId })
    .from(tenantMembers)
    .orderBy(asc(tenantMembers.roleName), asc(tenantMembers.tenantId));
}
