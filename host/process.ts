/**
 * Runs one program (argv, no shell) in a directory with a wall-clock timeout that kills the
 * whole process group, capped output, a streaming digest of everything it printed, and prompt
 * termination when the caller's AbortSignal fires (task cancelled, worker shutting down).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';

/** How to run the program. */
export interface RunProcessOptions {
  argv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Bytes of combined output kept in memory for the tail; the digest covers all of it. */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /** Bytes written to the program's stdin (closed after); stdin is empty otherwise. */
  stdinInput?: Buffer;
  /** Bytes offered to the program on fd 3 (bwrap reads its seccomp filter there). */
  fd3Input?: Buffer;
  /** A connected socket the program inherits as fd 4 (after fd 3); closed here once it has it. */
  fd4Socket?: Socket;
  /** Polled while the program runs; a returned reason kills it (e.g. the workspace outgrew its quota). */
  watchdog?: { intervalMs: number; check: () => Promise<string | undefined> };
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

const TAIL_BYTES = 4096;

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Spawns, waits and reports; never throws for a failing program (that is a result, not an error). */
export function runProcess(options: RunProcessOptions): Promise<RunProcessResult> {
  const started = Date.now();
  const maxBytes = options.maxOutputBytes ?? 1024 * 1024;
  const hash = createHash('sha256');
  let kept: Buffer[] = [];
  let keptBytes = 0;
  let total = 0;
  let timedOut = false;
  let aborted = false;
  let killedReason: string | undefined;
  let settled = false;
  return new Promise((resolve) => {
    const child = spawn(options.argv[0], options.argv.slice(1), {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: [
        options.stdinInput ? 'pipe' : 'ignore',
        'pipe',
        'pipe',
        ...(options.fd3Input || options.fd4Socket ? [options.fd3Input ? ('pipe' as const) : ('ignore' as const)] : []),
        ...(options.fd4Socket ? [options.fd4Socket] : []),
      ],
    });
    options.fd4Socket?.destroy();
    if (options.stdinInput) {
      child.stdin?.on('error', () => undefined); // a program that exits without reading stdin
      child.stdin?.end(options.stdinInput);
    }
    if (options.fd3Input) {
      const fd3 = child.stdio[3] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      fd3.on('error', () => undefined); // a program that never reads fd 3 must not crash us
      fd3.end(options.fd3Input);
    }
    const onData = (chunk: Buffer) => {
      hash.update(chunk);
      total += chunk.length;
      kept.push(chunk);
      keptBytes += chunk.length;
      if (keptBytes > TAIL_BYTES * 2) {
        const joined = Buffer.concat(kept).subarray(-TAIL_BYTES);
        kept = [joined];
        keptBytes = joined.length;
      }
      if (total > maxBytes) {
        killedReason ??= `output exceeded ${maxBytes} bytes`;
        killGroup(child.pid);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const timer = setTimeout(() => {
      timedOut = true;
      killedReason ??= `wall-clock timeout of ${options.timeoutMs} ms`;
      killGroup(child.pid);
    }, options.timeoutMs);
    const onAbort = () => {
      aborted = true;
      killedReason ??= 'cancelled';
      killGroup(child.pid);
    };
    const watchdog = options.watchdog;
    let checking = false; // a check slower than the interval (a huge workspace) is not started again meanwhile
    const watching = watchdog
      ? setInterval(() => {
          if (checking) return;
          checking = true;
          void watchdog
            .check()
            .then(
              (reason) => {
                if (!reason || settled) return;
                killedReason ??= reason;
                killGroup(child.pid);
              },
              () => undefined,
            )
            .finally(() => (checking = false));
        }, watchdog.intervalMs)
      : undefined;
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const finish = (exitCode: number | null, signal: string | null, spawnError?: string) => {
      // A spawn failure emits 'error' and then 'close'; the digest can be taken only once.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearInterval(watching);
      options.signal?.removeEventListener('abort', onAbort);
      killGroup(child.pid); // reap stragglers left in the group
      resolve({
        exitCode,
        signal,
        timedOut,
        aborted,
        durationMs: Date.now() - started,
        outputBytes: total,
        outputDigest: `sha256:${hash.digest('hex')}`,
        outputTail: Buffer.concat(kept).subarray(-TAIL_BYTES).toString('utf8'),
        truncated: total > maxBytes,
        killedReason,
        spawnError,
      });
    };
    child.on('error', (err) => finish(null, null, err.message));
    child.on('close', (code, sig) => finish(code, sig));
  });
}
