/**
 * The Temporal server and its SQL schema tool, built from the Go module proxy at a pinned
 * version into `.tools/` (once; later runs find them there), and the module's own schema and
 * config files, read from the Go module cache the build filled.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { MissingToolError, projectRoot } from '../paths';

/** The Temporal server release the cluster runs (the module version `go install` builds). */
export const TEMPORAL_SERVER_VERSION = 'v1.32.2';
/** The Go toolchain that version needs; the go command downloads it from the proxy when missing. */
const GO_TOOLCHAIN = 'go1.27.3';
const PACKAGES = ['go.temporal.io/server/cmd/server', 'go.temporal.io/server/cmd/tools/sql'];

/** Paths of the built binaries and of the module's files. */
export interface ClusterBinaries {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12` of the module. */
  schemaDir: string;
  /** `config/development-postgres12.yaml` of the module: the template of the cluster's config. */
  configTemplate: string;
}

function goCommand(): string {
  const fromEnv = process.env.ARBITER_GO_BIN;
  if (fromEnv) return fromEnv;
  for (const candidate of ['/usr/local/go/bin/go', ...(process.env.PATH ?? '').split(':').map((d) => `${d}/go`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new MissingToolError(
    'the go command was not found (needed once, to build the Temporal server): set ARBITER_GO_BIN',
  );
}

/** True when a go command is there to build the server with. */
export function goAvailable(): boolean {
  try {
    goCommand();
    return true;
  } catch {
    return false;
  }
}

/** Where the binaries of {@link TEMPORAL_SERVER_VERSION} live. */
export function clusterBinDir(): string {
  return path.join(projectRoot(), '.tools', `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

/** The binaries if already built (no network, no build); undefined otherwise. */
export function builtClusterBinaries(): ClusterBinaries | undefined {
  const dir = clusterBinDir();
  const server = path.join(dir, 'server');
  const sqlTool = path.join(dir, 'sql');
  if (!existsSync(server) || !existsSync(sqlTool)) return undefined;
  const moduleDir = temporalModuleDir();
  if (!moduleDir) return undefined;
  return {
    server,
    sqlTool,
    schemaDir: path.join(moduleDir, 'schema', 'postgresql', 'v12'),
    configTemplate: path.join(moduleDir, 'config', 'development-postgres12.yaml'),
  };
}

function temporalModuleDir(): string | undefined {
  try {
    const cache = execFileSync(goCommand(), ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
    const dir = path.join(cache, 'go.temporal.io', `server@${TEMPORAL_SERVER_VERSION}`);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the binaries unless present (about 8 minutes cold on 2 cores, seconds from Go's build cache). */
export async function ensureClusterBinaries(say: (line: string) => void): Promise<ClusterBinaries> {
  const built = builtClusterBinaries();
  if (built) return built;
  const dir = clusterBinDir();
  mkdirSync(dir, { recursive: true });
  say(`building Temporal server ${TEMPORAL_SERVER_VERSION} into ${dir} (first time only; minutes)`);
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(goCommand(), ['install', ...PACKAGES.map((p) => `${p}@${TEMPORAL_SERVER_VERSION}`)], {
      env: { ...process.env, GOTOOLCHAIN: GO_TOOLCHAIN, GOBIN: dir },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`go install exited with ${code}`))));
  });
  say(`built in ${Math.round((Date.now() - started) / 1000)} s`);
  const now = builtClusterBinaries();
  if (!now) throw new MissingToolError(`go install succeeded but ${dir} lacks server/sql or the module is not cached`);
  return now;
}
