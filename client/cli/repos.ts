/**
 * `arbiter repos add|list|remove` and `arbiter tenants grant|revoke|list`: which repositories a
 * tenant's tasks may name, and which database roles may read a tenant through the CLI. Writes
 * go through the owner's connection; `repos list` reads as the tenant.
 */
import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  addRepo,
  grantTenant,
  listRepos,
  listTenantGrants,
  removeRepo,
  revokeTenant,
  tenantsAtRepoPath,
} from '../../db/repos';
import { IdPartSchema, RepoNameSchema } from '../../domain/task';
import { assertOwnRepository } from '../../host/workspace';
import { EXIT, printRows, UsageError } from './output';
import { addTenantList } from './tenant-list';
import { withDb } from './with-db';

type Run = (fn: () => Promise<number>) => Promise<void>;

const RoleNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/);

function checked(schema: z.ZodTypeAny, value: string, what: string): string {
  if (!schema.safeParse(value).success) throw new UsageError(`'${value}' is not a valid ${what}`);
  return value;
}

/** The repository's absolute path with every symlink resolved, once it is known to be a git repository. */
async function registrablePath(dir: string): Promise<string> {
  let real: string;
  try {
    real = realpathSync(path.resolve(dir));
  } catch {
    throw new UsageError(`'${dir}' does not exist`);
  }
  await assertOwnRepository(real).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  return real;
}

async function add(name: string, dir: string, tenant: string): Promise<number> {
  checked(RepoNameSchema, name, 'repository name (a-z 0-9 _ -)');
  checked(IdPartSchema, tenant, 'tenant id');
  const repoPath = await registrablePath(dir);
  return withDb(async (db) => {
    const others = (await tenantsAtRepoPath(db, repoPath)).filter((t) => t !== tenant);
    if (others.length)
      throw new Error(
        `${repoPath} is already registered for tenant ${others.join(', ')}: a repository serves one tenant (their tasks' delivery branches, arbiter/<task>, would share it)`,
      );
    if (!(await addRepo(db, { tenantId: tenant, name, path: repoPath })))
      throw new Error(`tenant ${tenant} already has a repository '${name}' (arbiter repos remove it first)`);
    process.stdout.write(`${tenant}/${name} -> ${repoPath}\n`);
    return EXIT.ok;
  });
}

function registerRepoCommands(program: Command, run: Run): void {
  const group = program.command('repos').description("repositories a tenant's tasks may name (--repo NAME)");
  group
    .command('add')
    .argument('<name>', 'the name tasks use')
    .argument('<path>', 'an existing git repository on the worker hosts')
    .requiredOption('--tenant <tenant>')
    .action((name: string, dir: string, o: { tenant: string }) => run(() => add(name, dir, o.tenant)));
  addTenantList(group, run, listRepos, (r) => `${r.name}  ${r.path}`);
  group
    .command('remove')
    .argument('<name>')
    .requiredOption('--tenant <tenant>')
    .action((name: string, o: { tenant: string }) =>
      run(() =>
        withDb(async (db) => {
          if (!(await removeRepo(db, o.tenant, name)))
            throw new Error(`tenant ${o.tenant} has no repository '${name}'`);
          process.stdout.write(`${o.tenant}/${name} removed: new tasks naming it are rejected\n`);
          return EXIT.ok;
        }),
      ),
    );
}

function registerTenantCommands(program: Command, run: Run): void {
  const group = program.command('tenants').description('which database roles may read which tenant through the CLI');
  group
    .command('grant')
    .argument('<role>', 'a PostgreSQL role (a CLI login role, or a group of them)')
    .requiredOption('--tenant <tenant>')
    .action((role: string, o: { tenant: string }) =>
      run(() =>
        withDb(async (db) => {
          checked(RoleNameSchema, role, 'role name');
          checked(IdPartSchema, o.tenant, 'tenant id');
          if (!(await grantTenant(db, role, o.tenant))) throw new Error(`no PostgreSQL role '${role}'`);
          process.stdout.write(`${role} may read tenant ${o.tenant}\n`);
          return EXIT.ok;
        }),
      ),
    );
  group
    .command('revoke')
    .argument('<role>')
    .requiredOption('--tenant <tenant>')
    .action((role: string, o: { tenant: string }) =>
      run(() =>
        withDb(async (db) => {
          if (!(await revokeTenant(db, role, o.tenant))) throw new Error(`${role} had no grant for ${o.tenant}`);
          process.stdout.write(`${role} may no longer read tenant ${o.tenant}\n`);
          return EXIT.ok;
        }),
      ),
    );
  group
    .command('list')
    .option('--json')
    .action((o: { json?: boolean }) =>
      run(() =>
        withDb(async (db) => {
          printRows(await listTenantGrants(db), o.json, (r) => `${r.roleName}  ${r.tenantId}`);
          return EXIT.ok;
        }),
      ),
    );
}

/** Registers `repos` and `tenants` on `program`. */
export function registerRepoAndTenantCommands(program: Command, run: Run): void {
  registerRepoCommands(program, run);
  registerTenantCommands(program, run);
}
