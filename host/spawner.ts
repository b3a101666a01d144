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

/** One program to run: argv, its whole environment, stdin (base64) and the stdout limit. */
export interface SpawnRequest {
  id: number;
  file: string;
  args: string[];
  env: Record<string, string>;
  input?: string;
  maxBuffer: number;
}

/** What it printed (base64) and, when it failed, why (with its exit code when it ran). */
export interface SpawnReply {
  id: number;
  stdout: string;
  stderr: string;
  error?: { message: string; code?: number };
}

/** A failed run: the message, stderr and exit code, like `execFile`'s error. */
export class SpawnedProgramError extends Error {
  constructor(
    message: string,
    public readonly stderr: Buffer,
    public readonly code?: number,
  ) {
    super(message);
    this.name = 'SpawnedProgramError';
  }
}

interface Waiting {
  resolve: (stdout: Buffer) => void;
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
    execArgv: ['--max-old-space-size=64'],
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  child.on('message', (m: SpawnReply) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (waiting.size === 0) child.channel?.unref(); // idle, it never keeps the process alive
    const stdout = Buffer.from(m.stdout, 'base64');
    if (!m.error) return w.resolve(stdout);
    w.reject(new SpawnedProgramError(m.error.message, Buffer.from(m.stderr, 'base64'), m.error.code));
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

/** Runs `file` with `args` and exactly `env` through the helper; its stdout, or a {@link SpawnedProgramError}. */
export function spawnViaHelper(
  file: string,
  args: string[],
  options: { env: Record<string, string>; input?: string | Buffer; maxBuffer: number },
): Promise<Buffer> {
  const child = started();
  const id = nextId++;
  const input = options.input === undefined ? undefined : Buffer.from(options.input).toString('base64');
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    child.channel?.ref(); // the reply must arrive before the process may exit
    const request: SpawnRequest = { id, file, args, env: options.env, input, maxBuffer: options.maxBuffer };
    child.send(request, (err) => {
      if (err && waiting.delete(id)) reject(err);
    });
  });
}
