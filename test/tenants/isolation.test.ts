/**
 * Issue #10, "tenants kept apart", played as a CLI user of tenant A would try it: reading tenant
 * B's task, verdict and waiver through the real CLI and straight through SQL as its own database
 * role, even after `SET app.tenant_id = 'B'`. The worker's role sees both tenants; every table
 * with a tenant_id has row-level security forced.
 */
import assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client as PgClient } from 'pg';
import { createActivities } from '../../activities';
import { ensureLoginRole } from '../../db/login-roles';
import type { ResolvedRepo } from '../../domain/activity-io';
import { grantTenant } from '../../db/repos';
import { insertWaiver } from '../../db/waivers';
import { arbiter, cliEnv } from '../helpers/cli';
import { addScriptedAgent, GOOD_PLAN, registerRepo, specYaml, uniqueId } from '../helpers/fixtures';
import { testActivityDeps, testStack } from '../helpers/stack';
import { runToEnd } from '../helpers/tasks';

interface Tenant {
  id: string;
  taskId: string;
  waiverId: string;
}

/** A tenant with one COMPLETED task (so a verdict) and one stored waiver. */
async function tenantWithData(): Promise<Tenant> {
  const id = uniqueId('iso');
  await addScriptedAgent(id, GOOD_PLAN);
  const input = { tenantId: id, taskId: uniqueId('task'), specYaml: specYaml(), repo: await registerRepo(id) };
  const final = await runToEnd(input);
  assert.equal(final.state, 'COMPLETED', JSON.stringify(final.error));
  const waiverId = `WV-${Math.floor(1000 + Math.random() * 8999)}`;
  await insertWaiver(testStack().database.db, {
    tenantId: id,
    id: waiverId,
    taskId: input.taskId,
    reasonCode: 'architectural_refactor',
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  return { id, taskId: input.taskId, waiverId };
}

/** Runs `fn` on a connection of `url`, with `app.tenant_id` set when given. */
async function asRole<T>(url: string, tenant: string | undefined, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    if (tenant) await client.query(`SELECT set_config('app.tenant_id', $1, false)`, [tenant]);
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function count(c: PgClient, table: string, tenant: string): Promise<number> {
  const res = await c.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenant]);
  return (res.rows[0] as { n: number }).n;
}

describe('tenants: row-level security under the application roles', function () {
  this.timeout(120_000);
  let a: Tenant;
  let b: Tenant;
  const roles = { cli: `cli_${uniqueId('a').replace('-', '_')}`, worker: `worker_${uniqueId('w').replace('-', '_')}` };
  const urls = { cli: '', worker: '' };
  let env: NodeJS.ProcessEnv;

  before(async () => {
    const { database, databaseUrl } = testStack();
    [a, b] = [await tenantWithData(), await tenantWithData()];
    urls.cli = await ensureLoginRole(database.pool, databaseUrl, roles.cli, 'arbiter_cli');
    urls.worker = await ensureLoginRole(database.pool, databaseUrl, roles.worker, 'arbiter_worker');
    assert.equal(await grantTenant(database.db, roles.cli, a.id), true);
    // The CLI as tenant A's user runs it: its own role, and no owner connection.
    env = { ...cliEnv(), DATABASE_URL: urls.cli, ARBITER_ADMIN_DATABASE_URL: '' };
  });

  after(async () => {
    const { pool } = testStack().database;
    await pool.query('DELETE FROM tenant_members WHERE role_name = ANY($1)', [[roles.cli, roles.worker]]);
    for (const role of [roles.cli, roles.worker]) {
      await pool.query(`DROP OWNED BY "${role}"`);
      await pool.query(`DROP ROLE "${role}"`);
    }
  });

  it("the CLI shows tenant A's task, verdict and waivers to A's role", async () => {
    const status = await arbiter(['status', `${a.id}/${a.taskId}`, '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).state, 'COMPLETED');
    const verdict = await arbiter(['verdict', 'show', a.taskId, '--tenant', a.id, '--json'], env);
    assert.equal(verdict.code, 0, verdict.stderr);
    const waivers = await arbiter(['waivers', 'list', '--tenant', a.id, '--json'], env);
    assert.equal(waivers.code, 0, waivers.stderr);
    assert.deepEqual(
      (JSON.parse(waivers.stdout) as Array<{ id: string }>).map((w) => w.id),
      [a.waiverId],
    );
  });

  it("the CLI refuses tenant B's task, verdict and waivers to A's role", async () => {
    const status = await arbiter(['status', `${b.id}/${b.taskId}`, '--json'], env);
    assert.equal(status.code, 1, status.stdout);
    assert.match(status.stderr, /no task with workflow id/);
    assert.equal(status.stdout, '', 'nothing of the task is printed');
    const watch = await arbiter(['watch', b.taskId, '--tenant', b.id], env);
    assert.equal(watch.code, 1);
    const cancel = await arbiter(['cancel', `${b.id}/${b.taskId}`], env);
    assert.equal(cancel.code, 1);
    const verdict = await arbiter(['verdict', 'show', b.taskId, '--tenant', b.id, '--json'], env);
    assert.equal(verdict.code, 1);
    assert.match(verdict.stderr, /no verdict for task/);
    const waivers = await arbiter(['waivers', 'list', '--tenant', b.id, '--json'], env);
    assert.deepEqual(JSON.parse(waivers.stdout), []);
    const exported = await arbiter(['export-training-data', '--tenant', b.id], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, '', "no record of B's tasks");
    const ownExport = await arbiter(['export-training-data', '--tenant', a.id], env);
    assert.match(ownExport.stdout, new RegExp(a.taskId));
  });

  it('export-training-data without --tenant is refused (exit 2)', async () => {
    const res = await arbiter(['export-training-data'], cliEnv());
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--tenant/);
  });

  it("A's role cannot register repositories or grant itself tenant B (admin commands need the owner)", async () => {
    const repos = await arbiter(['repos', 'add', '--tenant', b.id, uniqueId('x'), process.cwd()], env);
    assert.equal(repos.code, 1);
    const grant = await arbiter(['tenants', 'grant', roles.cli, '--tenant', b.id], env);
    assert.equal(grant.code, 1);
    const status = await arbiter(['status', `${b.id}/${b.taskId}`], env);
    assert.equal(status.code, 1, 'still refused');
  });

  it("through SQL as A's role: B's rows are invisible, even with app.tenant_id set to B", async () => {
    const tables = ['tasks', 'task_events', 'verdicts', 'waivers', 'gate_results', 'provenance_events', 'repos'];
    for (const tenant of [undefined, a.id, b.id]) {
      await asRole(urls.cli, tenant, async (c) => {
        for (const table of tables) assert.equal(await count(c, table, b.id), 0, `${table} as app.tenant_id=${tenant}`);
      });
    }
    await asRole(urls.cli, a.id, async (c) => {
      for (const table of ['tasks', 'verdicts', 'waivers', 'repos'])
        assert.ok((await count(c, table, a.id)) > 0, table);
      const all = await c.query('SELECT DISTINCT tenant_id FROM tasks');
      assert.deepEqual(
        all.rows.map((r: { tenant_id: string }) => r.tenant_id),
        [a.id],
      );
      const grants = await c.query('SELECT role_name FROM tenant_members');
      assert.ok(
        grants.rows.every((r: { role_name: string }) => r.role_name === roles.cli),
        'sees only its own grants',
      );
      await assert.rejects(
        c.query(`UPDATE tasks SET state = 'FAILED' WHERE tenant_id = $1`, [a.id]),
        /permission denied/,
      );
      await assert.rejects(
        c.query(`INSERT INTO tenant_members (role_name, tenant_id) VALUES ($1, $2)`, [roles.cli, b.id]),
        /permission denied/,
      );
    });
    await asRole(urls.cli, undefined, async (c) => {
      assert.equal(await count(c, 'tasks', a.id), 0, 'nothing without app.tenant_id');
    });
  });

  it("the worker's role sees both tenants, and cannot rewrite provenance or registrations", async () => {
    await asRole(urls.worker, undefined, async (c) => {
      for (const t of [a, b]) {
        assert.equal(await count(c, 'tasks', t.id), 1);
        assert.equal(await count(c, 'verdicts', t.id), 1);
        assert.equal(await count(c, 'repos', t.id), 1);
      }
      await assert.rejects(c.query(`DELETE FROM provenance_events WHERE tenant_id = $1`, [b.id]), /permission denied/);
      await assert.rejects(c.query(`UPDATE repos SET path = '/etc' WHERE tenant_id = $1`, [b.id]), /permission denied/);
    });
  });

  it('every table with a tenant_id has row-level security enabled and forced', async () => {
    const { rows } = await testStack().database.pool.query(
      `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
       JOIN information_schema.columns col ON col.table_name = c.relname AND col.table_schema = current_schema()
       WHERE col.column_name = 'tenant_id' AND c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace`,
    );
    assert.ok(rows.length >= 17, `tables found: ${rows.map((r: { relname: string }) => r.relname).join(', ')}`);
    for (const r of rows as Array<{ relname: string; relrowsecurity: boolean; relforcerowsecurity: boolean }>)
      assert.ok(r.relrowsecurity && r.relforcerowsecurity, `${r.relname} lacks forced row-level security`);
  });

  it("a run in another namespace than its tenant's is refused before its repository is read", async () => {
    const repo = await registerRepo('acme');
    const deps = testActivityDeps({ temporal: { namespace: 'default', tenantNamespaces: { acme: 'acme-ns' } } });
    const { resolveRepo } = createActivities(deps);
    const env = new MockActivityEnvironment(); // its workflow namespace is 'default'
    await assert.rejects(env.run(resolveRepo, { tenantId: 'acme', taskId: uniqueId('t'), repo }), (err: Error) => {
      assert.match(err.message, /tenant 'acme' is served in namespace 'acme-ns', not 'default'/);
      return true;
    });
    await assert.rejects(
      env.run(resolveRepo, { tenantId: 'unmapped', taskId: uniqueId('t'), repo }),
      /tenant 'unmapped' is served in namespace '\(none configured\)'/,
    );
    // A step whose input names no tenant cannot be checked, so only the maintenance steps may run so.
    const noTenant = { taskId: uniqueId('t'), repo } as unknown as Parameters<typeof resolveRepo>[0];
    await assert.rejects(env.run(resolveRepo, noTenant), /resolveRepo names no tenant/);
    const open = createActivities(testActivityDeps({ temporal: { namespace: 'default', tenantNamespaces: {} } }));
    const resolved = (await env.run(open.resolveRepo, {
      tenantId: 'acme',
      taskId: uniqueId('t'),
      repo,
    })) as ResolvedRepo;
    assert.equal(resolved.repo, repo);
  });
});
