/**
 * One program (argv, no shell) in a directory with a wall-clock timeout that kills the whole
 * process group, capped output and a streaming digest of everything it printed. It runs in the
 * spawner process (host/spawner-child.ts), never in the worker: see host/run-process.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { escapeNul } from '../domain/bounds';

/** The program and its limits: everything the process that starts it needs. */
export interface ProgramOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Bytes of combined output kept in memory for the tail; the digest covers all of it. */
  maxOutputBytes?: number;
  /** Bytes written to the program's stdin (closed after); stdin is empty otherwise. */
  stdinInput?: Buffer;
  /** Bytes offered to the program on fd 3 (bwrap reads its seccomp filter there). */
  fd3Input?: Buffer;
  /** A connected socket the program inherits as fd 4 (after fd 3); closed here once it has it. */
  fd4Socket?: Socket;
  /** Bytes offered on fd 5 (bwrap reads the command's environment there, off its command line). */
  fd5Input?: Buffer;
}

/** What happened, as evidence. */
export interface RunProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  outputBytes: number;
  outputDigest: string;
  outputTail: string;
  truncated: boolean;
  /** Why the program was killed, when it was (timeout, output cap, cancellation, watchdog). */
  killedReason?: string;
  spawnError?: string;
}

/** A started program: its result (never a rejection: a failing program is a result) and a way to stop it. */
export interface RunningProcess {
  done: Promise<RunProcessResult>;
  /** Kills the process group; `cancelled` marks the result aborted (the caller gave up), not limited. */
  kill(reason: string, cancelled: boolean): void;
}

const TAIL_BYTES = 4096;

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Keeps the digest of all output and its last bytes. */
function outputRecorder() {
  const hash = createHash('sha256');
  let kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  return {
    add(chunk: Buffer): number {
      hash.update(chunk);
      total += chunk.length;
      kept.push(chunk);
      keptBytes += chunk.length;
      if (keptBytes > TAIL_BYTES * 2) {
        const joined = Buffer.concat(kept).subarray(-TAIL_BYTES);
        kept = [joined];
        keptBytes = joined.length;
      }
      return total;
    },
    finish: () => ({
      outputBytes: total,
      outputDigest: `sha256:${hash.digest('hex')}`,
      outputTail: escapeNul(Buffer.concat(kept).subarray(-TAIL_BYTES).toString('utf8')),
    }),
  };
}

/** The descriptors after stderr, up to the last one the program is given. */
function extraDescriptors(options: ProgramOptions): ('pipe' | 'ignore' | Socket)[] {
  const extra = [
    options.fd3Input ? ('pipe' as const) : ('ignore' as const),
    options.fd4Socket ?? ('ignore' as const),
    options.fd5Input ? ('pipe' as const) : ('ignore' as const),
  ];
  while (extra.at(-1) === 'ignore') extra.pop();
  return extra;
}

function spawnProgram(options: ProgramOptions) {
  const child = spawn(options.argv[0], options.argv.slice(1), {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: [options.stdinInput ? 'pipe' : 'ignore', 'pipe', 'pipe', ...extraDescriptors(options)],
  });
  options.fd4Socket?.destroy();
  const streams: unknown[] = child.stdio;
  offer(streams[0], options.stdinInput);
  offer(streams[3], options.fd3Input);
  offer(streams[5], options.fd5Input);
  return child;
}

/** Writes `input` to the program's descriptor and closes it; a program that exits without reading it must not crash us. */
function offer(stream: unknown, input: Buffer | undefined): void {
  if (!input) return;
  const writable = stream as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
  writable.on('error', () => undefined);
  writable.end(input);
}

/** The result of a program that could not be started at all (`spawnError` says why). */
export function startProcessFailure(spawnError: string): RunProcessResult {
  return {
    exitCode: null,
    signal: null,
    timedOut: false,
    aborted: false,
    durationMs: 0,
    ...outputRecorder().finish(),
    truncated: false,
    spawnError,
  };
}

/** Starts the program here, in this process. */
export function startProcess(options: ProgramOptions): RunningProcess {
  const started = Date.now();
  const maxBytes = options.maxOutputBytes ?? 1024 * 1024;
  const output = outputRecorder();
  let timedOut = false;
  let aborted = false;
  let killedReason: string | undefined;
  let settled = false;
  const child = spawnProgram(options);
  const kill = (reason: string, cancelled: boolean) => {
    if (settled) return;
    aborted ||= cancelled;
    killedReason ??= reason;
    killGroup(child.pid);
  };
  const onData = (chunk: Buffer) => {
    if (output.add(chunk) > maxBytes) kill(`output exceeded ${maxBytes} bytes`, false);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const timer = setTimeout(() => {
    timedOut = !settled;
    kill(`wall-clock timeout of ${options.timeoutMs} ms`, false);
  }, options.timeoutMs);
  const done = new Promise<RunProcessResult>((resolve) => {
    const finish = (exitCode: number | null, signal: string | null, spawnError?: string) => {
      // A spawn failure emits 'error' and then 'close'; the digest can be taken only once.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      killGroup(child.pid); // reap stragglers left in the group
      const recorded = output.finish();
      resolve({
        exitCode,
        signal,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
        ...recorded,
        truncated: recorded.outputBytes > maxBytes,
        killedReason,
        spawnError,
      });
    };
    child.on('error', (err) => finish(null, null, err.message));
    child.on('close', (code, sig) => finish(code, sig));
  });
  return { done, kill };
}
