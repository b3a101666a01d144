/**
 * The spawner process (host/spawner.ts): runs a task's programs for its parent and sends back how
 * they ended. It stays small, so starting a program costs it little, where a fork of the large
 * worker process would block the worker's event loop for milliseconds each.
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { startProcess, startProcessFailure, type RunningProcess } from './process';
import type { HelperRequest, RunReply, RunRequest } from './spawner';

const running = new Map<number, RunningProcess>();

/** `O_CLOEXEC` as `/proc/self/fdinfo` shows it (octal, the same on x86-64 and arm64). */
const CLOSE_ON_EXEC = 0o2000000;

/**
 * Closes the descriptors this process inherited without close-on-exec (from whatever started the
 * worker: a supervisor's pipe, an activation socket, a test harness's): every program started
 * here, sandboxed ones too, would inherit them, and a writable pipe of the host's was open in the
 * agent's process (found in review). Node's own are all close-on-exec, its channel to the worker aside.
 */
function closeInheritedDescriptors(): void {
  const channel = (process.channel as { fd?: number } | undefined)?.fd;
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2 || fd === channel) continue;
    let flags: string | undefined;
    try {
      flags = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1];
    } catch {
      continue; // the listing's own descriptor, closed by now
    }
    if (flags !== undefined && (parseInt(flags, 8) & CLOSE_ON_EXEC) === 0) closeSync(fd);
  }
}

closeInheritedDescriptors();

function reply(message: RunReply): void {
  process.send?.(message);
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
function refused(request: RunRequest, err: Error): void {
  reply({ id: request.id, result: startProcessFailure(err.message) });
}

process.on('message', (request: HelperRequest, handle?: Socket) => {
  if (request.kind === 'kill') return running.get(request.id)?.kill(request.reason, request.cancelled);
  try {
    run(request, handle);
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
