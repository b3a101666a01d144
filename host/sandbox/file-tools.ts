/**
 * The only write path agents get: read, write, exact search-and-replace, delete and list,
 * each resolved inside the workspace with real-path checks, each write checked against the
 * protected paths, the spec's scope and size limits, and each operation audited with its
 * digests before and after. A refusal is recorded and raised as a PolicyViolationError.
 */
import type { Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { FileToolError, PathEscapeError, PolicyViolationError } from '../../domain/errors';
import type { SandboxPolicy } from '../../domain/sandbox';
import type { Db } from '../../db/client';
import { sha256 } from '../digest';
import { forgetFreshCheckout } from '../fresh-checkout';
import { resolveInWorkspace } from '../workspace-paths';
import { bytesWrittenByTask, recordSandboxEvent, TOOL_ENTRY_CHARGE } from './audit';
import { runningAsRoot, type SandboxConfig } from './config';
import type { SandboxUser, SandboxUserOf } from './uid-leases';
import { writeRefusal } from './write-policy';
import { escapeNul } from '../../domain/bounds';
import { toolFailures } from './tool-failures';

/** Linux's PATH_MAX and NAME_MAX: a tool call naming a longer path is refused before anything matches it. */
const MAX_PATH = 4096;
const MAX_NAME = 255;
/** Names a tool's path may hold: deeper than any source tree, far short of the 2,048 PATH_MAX allows. */
const MAX_DEPTH = 128;
/** Largest file `file_read` reads (it returns at most its first 256 KiB, but hashes it whole). */
const MAX_READ_BYTES = 16 * 1024 * 1024;
/** Who is asking and under which rules; every tool call carries it. */
export interface FileToolCall {
  tenantId: string;
  taskId: string;
  workspacePath: string;
  policy: SandboxPolicy;
}

/** One entry of `listFiles`. */
export interface FileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  bytes: number;
}

/**
 * At most `limit` entries of `dir` (in the order the file system gives them), and whether it
 * holds more. An agent can fill a folder with a million entries; read whole and sorted, one
 * listing held the worker's event loop for seconds.
 */
async function someEntries(dir: string, limit: number): Promise<{ entries: Dirent[]; more: boolean }> {
  const handle = await fs.opendir(dir, { bufferSize: Math.min(limit + 1, 1024) });
  const entries: Dirent[] = [];
  try {
    for (let d = await handle.read(); d; d = await handle.read()) {
      if (entries.length === limit) return { entries, more: true };
      entries.push(d);
    }
    return { entries, more: false };
  } finally {
    await handle.close();
  }
}

/** How many files and folders writing `target` makes: it and each missing folder above it in `root`, up to the first that exists. */
async function entriesCreatedBy(root: string, target: string): Promise<number> {
  let made = 0;
  for (let p = target; p.startsWith(root + path.sep); p = path.dirname(p)) {
    if (
      await fs.lstat(p).then(
        () => true,
        () => false,
      )
    )
      break;
    made++;
  }
  return made;
}

async function digestOf(file: string): Promise<string | undefined> {
  return fs.readFile(file).then(sha256, () => undefined);
}

/** Builds the file tools over a database (for the audit), the sandbox limits and whom a task's files belong to. */
export function createFileTools(deps: { db: Db; sandbox: SandboxConfig; sandboxUser: SandboxUserOf }) {
  const audit = (
    call: FileToolCall,
    e: Omit<Parameters<typeof recordSandboxEvent>[1], 'tenantId' | 'taskId' | 'kind'>,
  ) => recordSandboxEvent(deps.db, { tenantId: call.tenantId, taskId: call.taskId, kind: 'file', ...e });

  async function refuse(call: FileToolCall, op: string, relPath: string, reason: string): Promise<never> {
    // PostgreSQL text and jsonb cannot hold NUL: a refused NUL path is recorded (and reported) escaped.
    const violation = { op, path: escapeNul(relPath), reason: escapeNul(reason) };
    await audit(call, { ...violation, allowed: false });
    throw new PolicyViolationError(violation);
  }

  async function resolve(
    call: FileToolCall,
    op: string,
    relPath: string,
    kind: 'file' | 'dir' = 'file',
  ): Promise<{ target: string; rel: string; root: string }> {
    // Longer than any path the filesystem takes, and matched against scope globs before it fails.
    // In bytes, as Linux counts: 200 `é` are 400, and failed as the host's ENAMETOOLONG.
    const names = relPath.split('/');
    if (Buffer.byteLength(relPath) > MAX_PATH || names.some((name) => Buffer.byteLength(name) > MAX_NAME))
      return refuse(call, op, relPath, `longer than a path may be (${MAX_PATH} bytes, ${MAX_NAME} a name)`);
    // Split as resolveInWorkspace splits: a backslash makes a folder too (found in review).
    if (relPath.split(/[\\/]+/).filter((n) => n && n !== '.').length > MAX_DEPTH)
      return refuse(call, op, relPath, `deeper than a path may be (${MAX_DEPTH} names)`);
    try {
      const target = await resolveInWorkspace(call.workspacePath, relPath, { kind });
      const root = await fs.realpath(call.workspacePath);
      return { target, rel: path.relative(root, target) || '.', root };
    } catch (err) {
      if (err instanceof PathEscapeError) return refuse(call, op, relPath, err.message);
      throw err;
    }
  }

  async function resolveForWrite(call: FileToolCall, op: string, relPath: string, bytes: number) {
    const resolved = await resolve(call, op, relPath);
    const refusal = writeRefusal(resolved.rel, call.policy);
    if (refusal) await refuse(call, op, resolved.rel, refusal);
    const { toolFileBytes, toolTaskBytes } = deps.sandbox.limits;
    if (bytes > toolFileBytes)
      await refuse(call, op, resolved.rel, `${bytes} bytes exceeds the per-file limit of ${toolFileBytes}`);
    const entries = await entriesCreatedBy(resolved.root, resolved.target);
    const charged =
      (await bytesWrittenByTask(deps.db, call.tenantId, call.taskId)) + bytes + entries * TOOL_ENTRY_CHARGE;
    if (charged > toolTaskBytes)
      await refuse(
        call,
        op,
        resolved.rel,
        `would write ${charged} bytes in this task (each file or folder made counts ${TOOL_ENTRY_CHARGE}), over the limit of ${toolTaskBytes}`,
      );
    await forgetFreshCheckout(call.workspacePath);
    return { ...resolved, entries };
  }

  /** Files the tools create must stay writable by the task's unprivileged user, the one its commands run as. */
  async function handOver(root: string, target: string, user: SandboxUser): Promise<void> {
    if (!runningAsRoot()) return;
    for (let p = target; p.startsWith(root + path.sep); p = path.dirname(p)) {
      await fs.lchown(p, user.uid, user.gid);
    }
  }

  /**
   * Refuses a file over `max` bytes before it is read: the agent chooses its size (up to the
   * sandbox's 256 MiB file limit), and splitting a 150 MiB string killed the worker outright.
   */
  async function refuseLarger(target: string, rel: string, max: number, verb: string): Promise<void> {
    const stat = await fs.stat(target).catch(() => {
      throw new FileToolError(`cannot ${verb} '${rel}': no such file`);
    });
    if (stat.size > max) throw new FileToolError(`cannot ${verb} '${rel}': ${stat.size} bytes, over ${max}`);
  }

  async function write(call: FileToolCall, op: string, relPath: string, content: string) {
    const bytes = Buffer.byteLength(content);
    const { target, rel, root, entries } = await resolveForWrite(call, op, relPath, bytes);
    const user = await deps.sandboxUser(call); // before writing: a task without its uid gets nothing written
    const digestBefore = await digestOf(target);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
    await handOver(root, target, user);
    const digestAfter = sha256(Buffer.from(content));
    await audit(call, { op, path: rel, allowed: true, bytes, digestBefore, digestAfter, detail: { entries } });
    return { path: rel, bytes, digestBefore: digestBefore ?? null, digestAfter };
  }

  return toolFailures({
    async fileRead(call: FileToolCall & { path: string; maxBytes?: number }) {
      const { target, rel } = await resolve(call, 'file_read', call.path);
      await refuseLarger(target, rel, MAX_READ_BYTES, 'read');
      const data = await fs.readFile(target).catch(() => {
        throw new FileToolError(`cannot read '${rel}': no such file`);
      });
      const limit = call.maxBytes ?? 256 * 1024;
      const digest = sha256(data);
      await audit(call, {
        op: 'file_read',
        path: rel,
        allowed: true,
        bytes: data.length,
        digestBefore: digest,
        digestAfter: digest,
      });
      return {
        path: rel,
        content: data.subarray(0, limit).toString('utf8'),
        bytes: data.length,
        truncated: data.length > limit,
        digest,
      };
    },

    fileWrite(call: FileToolCall & { path: string; content: string }) {
      return write(call, 'file_write', call.path, call.content);
    },

    async fileSearchReplace(call: FileToolCall & { path: string; search: string; replace: string }) {
      if (!call.search) throw new FileToolError('search text is empty');
      const { target, rel } = await resolve(call, 'file_search_replace', call.path);
      // The edit is written back, so a file past the write limit could not be edited anyway.
      await refuseLarger(target, rel, deps.sandbox.limits.toolFileBytes, 'edit');
      const existing = await fs.readFile(target, 'utf8').catch(() => {
        throw new FileToolError(`cannot edit '${rel}': no such file`);
      });
      const matches = existing.split(call.search).length - 1;
      if (matches !== 1)
        throw new FileToolError(`search text must match exactly once in '${rel}'; it matches ${matches} times`);
      return write(
        call,
        'file_search_replace',
        rel,
        existing.replace(call.search, () => call.replace),
      );
    },

    async fileDelete(call: FileToolCall & { path: string }) {
      const { target, rel } = await resolveForWrite(call, 'file_delete', call.path, 0);
      const digestBefore = await digestOf(target);
      if (!digestBefore) throw new FileToolError(`cannot delete '${rel}': no such file`);
      await fs.rm(target);
      await audit(call, { op: 'file_delete', path: rel, allowed: true, bytes: 0, digestBefore });
      return { path: rel, digestBefore };
    },

    async listFiles(
      call: FileToolCall & { path?: string; maxEntries?: number },
    ): Promise<{ entries: FileEntry[]; truncated: boolean }> {
      const { target, rel, root } = await resolve(call, 'list_files', call.path ?? '.', 'dir');
      const max = call.maxEntries ?? 1000;
      const entries: FileEntry[] = [];
      const queue = [target];
      let more = false;
      while (queue.length && entries.length < max) {
        const dir = queue.shift() as string;
        const read = await someEntries(dir, max - entries.length);
        more ||= read.more;
        for (const d of read.entries.sort((a, b) => a.name.localeCompare(b.name))) {
          const full = path.join(dir, d.name);
          const type = d.isSymbolicLink() ? 'symlink' : d.isDirectory() ? 'dir' : d.isFile() ? 'file' : 'other';
          // A name that is not UTF-8 reads as another (U+FFFD), which may not exist: listed, unsized.
          const bytes = type === 'file' ? ((await fs.lstat(full).catch(() => undefined))?.size ?? 0) : 0;
          entries.push({ path: path.relative(root, full), type, bytes });
          if (type === 'dir') queue.push(full);
        }
      }
      await audit(call, { op: 'list_files', path: rel, allowed: true, detail: { entries: entries.length } });
      return { entries, truncated: more || queue.length > 0 };
    },
  });
}

/** The file tools' interface. */
export type FileTools = ReturnType<typeof createFileTools>;
