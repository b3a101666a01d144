/**
 * Short programs (git) started by a small helper process instead of the worker itself. Starting
 * a program forks the process that starts it, and a fork copies the parent's page tables while
 * blocking its event loop: measured at 9–33 ms per call in a worker of 0.5–0.8 GiB, around
 * 50 git calls per task, so at load the worker spent most of its main thread forking. The helper
 * (host/spawner-child.ts) is a few tens of MiB; it runs with the worker's user and is given
 * the exact argv and environment, so nothing about what runs changes. If it dies, the calls in
 * flight fail (their activities retry) and the next call starts a new one.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import type { ProgramOptions, RunningProcess, RunProcessResult } from './process';

/**
 * One program to run: argv, its whole environment, stdin and the stdout limit. Bytes travel as
 * Buffers (the channel's `advanced` serialization copies them once): as base64 text, a patch of
 * 200 MB took the worker to 1.26 GiB and the helper to 1.1 GiB.
 */
export interface SpawnRequest {
  kind: 'exec';
  id: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  input?: Buffer;
  maxBuffer: number;
  /** Killed (SIGKILL) past this many milliseconds; 0 or absent, never. */
  timeoutMs?: number;
}

/** Which limit of its request a program ran past, when it was stopped for one. */
export type Overrun = 'output' | 'time';

/** What it printed and, when it failed, why (with its exit code when it ran). */
export interface SpawnReply {
  id: number;
  stdout: Buffer;
  stderr: Buffer;
  error?: { message: string; code?: number; overran?: Overrun };
}

/** A task's program, supervised by the helper (host/process.ts); fd 4's socket travels as the message's handle. */
export interface RunRequest {
  kind: 'run';
  id: number;
  program: Omit<ProgramOptions, 'fd4Socket'>;
}

/** Stops a program started by a {@link RunRequest}. */
export interface KillRequest {
  kind: 'kill';
  id: number;
  reason: string;
  cancelled: boolean;
}

/** How a {@link RunRequest}'s program ended. */
export interface RunReply {
  id: number;
  result: RunProcessResult;
}

/** Everything the worker asks of the helper. */
export type HelperRequest = SpawnRequest | RunRequest | KillRequest;

/** A failed run: the message, stderr, exit code and what it printed before, like `execFile`'s error. */
export class SpawnedProgramError extends Error {
  constructor(
    message: string,
    public readonly stderr: Buffer,
    public readonly code?: number,
    public readonly stdout: Buffer = Buffer.alloc(0),
    /** Set when it was stopped for running past its output or time limit. */
    public readonly overran?: Overrun,
  ) {
    super(message);
    this.name = 'SpawnedProgramError';
  }
}

interface Waiting {
  settle: (reply: SpawnReply | RunReply) => void;
  reject: (err: Error) => void;
}

let helper: ChildProcess | undefined;
const waiting = new Map<number, Waiting>();
let nextId = 0;

function failAll(reason: string): void {
  for (const w of waiting.values()) w.reject(new SpawnedProgramError(reason, Buffer.alloc(0)));
  waiting.clear();
  helper = undefined;
}

function started(): ChildProcess {
  if (helper?.connected) return helper;
  const child = fork(path.join(__dirname, 'spawner-child.js'), [], {
    // Every program it starts forks it, and a fork copies its page tables: a young generation
    // of 1 MiB (V8's default grows to 16) kept its peak at 61 MiB, not 92, under 200 tasks.
    execArgv: ['--max-old-space-size=64', '--max-semi-space-size=1'],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.on('message', (m: SpawnReply | RunReply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (waiting.size === 0) child.channel?.unref(); // idle, it never keeps the process alive
    w.settle(m);
  });
  child.on('exit', () => child === helper && failAll('the spawner process ended'));
  child.unref();
  child.channel?.unref();
  helper = child;
  return child;
}

/** The helper's process id while it runs (the load benchmark counts its CPU time and its programs'). */
export function spawnerPid(): number | undefined {
  return helper?.pid;
}

/** Sends `request` (with `handle`, if any) and waits for its reply. */
function ask(request: SpawnRequest | RunRequest, handle?: Socket): Promise<SpawnReply | RunReply> {
  const child = started();
  return new Promise((settle, reject) => {
    waiting.set(request.id, { settle, reject });
    child.channel?.ref(); // the reply must arrive before the process may exit
    child.send(request, handle, (err) => {
      if (err && waiting.delete(request.id)) reject(err);
    });
  });
}

/** Runs `file` with `args` and exactly `env` through the helper; its stdout, or a {@link SpawnedProgramError}. */
export async function spawnViaHelper(
  file: string,
  args: string[],
  options: { env: Record<string, string>; input?: string | Buffer; maxBuffer: number; timeoutMs?: number },
): Promise<Buffer> {
  const request: SpawnRequest = {
    kind: 'exec',
    id: nextId++,
    file,
    args,
    env: options.env,
    maxBuffer: options.maxBuffer,
    timeoutMs: options.timeoutMs,
  };
  const input = options.input === undefined ? undefined : Buffer.from(options.input);
  const reply = (await ask({ ...request, input })) as SpawnReply;
  const { error } = reply;
  if (error) throw new SpawnedProgramError(error.message, reply.stderr, error.code, reply.stdout, error.overran);
  return reply.stdout;
}

/**
 * Starts a task's program in the helper. Its result never rejects for a failing program; it
 * rejects only when the helper itself ended meanwhile (an infrastructure fault: the activity retries).
 */
export function startViaHelper({ fd4Socket, ...program }: ProgramOptions): RunningProcess {
  const id = nextId++;
  const done = ask({ kind: 'run', id, program }, fd4Socket).then((reply) => (reply as RunReply).result);
  return {
    done,
    kill(reason, cancelled) {
      const request: KillRequest = { kind: 'kill', id, reason, cancelled };
      if (waiting.has(id)) helper?.send(request, undefined, () => undefined);
    },
  };
}
