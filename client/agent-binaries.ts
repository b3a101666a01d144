/**
 * Finding a preset's CLI on this worker, for `agents add --preset` (so the stored config names
 * a binary and tool folders that exist) and for `doctor` (so an operator learns why a preset
 * cannot run before a task fails). A native binary in node_modules is preferred to a node
 * wrapper: it needs nothing from outside its own folder in the sandbox.
 */
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { PresetDefinition } from '../domain/agent-presets';

/** A CLI found on this worker. */
export interface FoundBinary {
  /** Absolute, symlinks resolved: the path bound into the sandbox. */
  path: string;
  source: '--binary' | 'node_modules' | 'PATH';
}

/** Where to look. */
export interface FindOptions {
  /** An operator's explicit choice; when given, only it is considered. */
  binary?: string;
  /** Folder whose node_modules is searched (Arbiter's checkout). */
  root?: string;
  /** PATH to search (default: this process's). */
  pathEnv?: string;
  arch?: string;
}

function executable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Thrown when `--binary` names something that cannot be run. */
export class BinaryNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BinaryNotFoundError';
  }
}

/** The preset's binary: `--binary`, else a native one in node_modules, else node_modules/.bin, else PATH. */
export function findPresetBinary(def: PresetDefinition, o: FindOptions = {}): FoundBinary | undefined {
  if (o.binary) {
    const abs = path.resolve(o.binary);
    if (!executable(abs)) throw new BinaryNotFoundError(`--binary ${o.binary}: not an executable file`);
    return { path: realpathSync(abs), source: '--binary' };
  }
  if (o.root) {
    const nm = path.join(o.root, 'node_modules');
    for (const rel of def.nodeModulesBinaries(o.arch ?? process.arch)) {
      const file = path.join(nm, rel);
      if (executable(file)) return { path: realpathSync(file), source: 'node_modules' };
    }
    const bin = path.join(nm, '.bin', def.program);
    if (existsSync(bin) && executable(bin)) return { path: realpathSync(bin), source: 'node_modules' };
  }
  for (const dir of (o.pathEnv ?? process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, def.program);
    if (executable(file)) return { path: realpathSync(file), source: 'PATH' };
  }
  return undefined;
}

/** The first line `<binary> --version` prints; throws with the reason when it cannot run. */
export function binaryVersion(binary: string): string {
  // No keys and none of the operator's HOME: a throwaway one, since some CLIs write there even for --version.
  const home = mkdtempSync(path.join(os.tmpdir(), 'arbiter-version-home-'));
  try {
    const out = execFileSync(binary, ['--version'], {
      encoding: 'utf8',
      timeout: 15_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' },
    });
    return out.trim().split('\n')[0] ?? '';
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Whether a file starts with `#!` naming node: such a CLI needs node (and its package folder) in the sandbox. */
export function isNodeScript(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const buf = Buffer.alloc(128);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /^#!.*\bnode\b/.test(buf.subarray(0, n).toString('latin1'));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
