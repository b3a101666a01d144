/**
 * The spawner process (host/spawner.ts): runs the programs its parent asks for and sends back
 * what they printed or how they ended. It stays small, so starting a program costs it little,
 * where a fork of the large worker process would block the worker's event loop for milliseconds each.
 */
import { execFile } from 'node:child_process';
import type { Socket } from 'node:net';
import { startProcess, startProcessFailure, type RunningProcess } from './process';
import type { HelperRequest, Overrun, RunReply, RunRequest, SpawnReply, SpawnRequest } from './spawner';

const running = new Map<number, RunningProcess>();

function reply(message: SpawnReply | RunReply): void {
  process.send?.(message);
}

type ExecError = Error & { code?: unknown; killed?: boolean; signal?: unknown };

/** Which limit stopped the program: node kills it past `maxBuffer` too, so the output is asked first. */
function overrun(e: ExecError): Overrun | undefined {
  if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return 'output';
  return e.killed && e.signal === 'SIGKILL' ? 'time' : undefined;
}

function exec(request: SpawnRequest): void {
  const child = execFile(
    request.file,
    request.args,
    {
      encoding: 'buffer',
      maxBuffer: request.maxBuffer,
      env: request.env,
      timeout: request.timeoutMs ?? 0,
      killSignal: 'SIGKILL',
    },
    (err, stdout, stderr) => {
      const e = err as ExecError | null;
      const code = typeof e?.code === 'number' ? e.code : undefined;
      reply({
        id: request.id,
        stdout,
        stderr,
        error: e ? { message: e.message, code, overran: overrun(e) } : undefined,
      });
    },
  );
  child.stdin?.end(request.input);
}

function run({ id, program }: RunRequest, fd4Socket: Socket | undefined): void {
  const started = startProcess({ ...program, fd4Socket });
  running.set(id, started);
  void started.done.then((result) => {
    running.delete(id);
    reply({ id, result });
  });
}

/**
 * A request whose program cannot even start (a NUL byte in an argument an agent chose makes
 * `spawn` throw) fails alone: this process is shared by every task on the worker.
 */
function refused(request: SpawnRequest | RunRequest, err: Error): void {
  if (request.kind === 'exec')
    return reply({ id: request.id, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), error: { message: err.message } });
  reply({ id: request.id, result: startProcessFailure(err.message) });
}

process.on('message', (request: HelperRequest, handle?: Socket) => {
  if (request.kind === 'kill') return running.get(request.id)?.kill(request.reason, request.cancelled);
  try {
    if (request.kind === 'exec') exec(request);
    else run(request, handle);
  } catch (err) {
    handle?.destroy();
    refused(request, err as Error);
  }
});
// The worker is gone: nothing it started may outlive it (bwrap dies with us; an unconfined group would not).
process.on('disconnect', () => {
  for (const program of running.values()) program.kill('the worker ended', true);
  process.exit(0);
});
