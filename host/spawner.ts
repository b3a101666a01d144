/**
 * A task's programs (agents and gates, each in its sandbox) started and supervised by a small
 * helper process (host/spawner-child.ts) instead of the worker itself. Starting a program forks
 * the process that starts it, and a fork copies the parent's page tables while blocking its event
 * loop: 9–33 ms per call in a worker of 0.5–0.8 GiB. The helper is a few tens of MiB; it runs
 * with the worker's user and is given the exact argv and environment, so nothing about what runs
 * changes. If it dies, the programs in flight fail (their activities retry) and the next program
 * starts a new one. Short programs (git, du) start in host/native-spawner.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { Socket } from 'node:net';
import type { ProgramOptions, RunningProcess, RunProcessResult } from './process';

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
export type HelperRequest = RunRequest | KillRequest;

interface Waiting {
  settle: (reply: RunReply) => void;
  reject: (err: Error) => void;
}

let helper: ChildProcess | undefined;
const waiting = new Map<number, Waiting>();
let nextId = 0;

function failAll(reason: string): void {
  for (const w of waiting.values()) w.reject(new Error(reason));
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
  child.on('message', (m: RunReply) => {
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
function ask(request: RunRequest, handle?: Socket): Promise<RunReply> {
  const child = started();
  return new Promise((settle, reject) => {
    waiting.set(request.id, { settle, reject });
    child.channel?.ref(); // the reply must arrive before the process may exit
    child.send(request, handle, (err) => {
      if (err && waiting.delete(request.id)) reject(err);
    });
  });
}

/**
 * Starts a task's program in the helper. Its result never rejects for a failing program; it
 * rejects only when the helper itself ended meanwhile (an infrastructure fault: the activity retries).
 */
export function startViaHelper({ fd4Socket, ...program }: ProgramOptions): RunningProcess {
  const id = nextId++;
  const done = ask({ kind: 'run', id, program }, fd4Socket).then((reply) => reply.result);
  return {
    done,
    kill(reason, cancelled) {
      const request: KillRequest = { kind: 'kill', id, reason, cancelled };
      if (waiting.has(id)) helper?.send(request, undefined, () => undefined);
    },
  };
}
