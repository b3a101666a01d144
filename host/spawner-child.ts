/**
 * The spawner process (host/spawner.ts): runs the programs its parent asks for with `execFile`
 * and sends back what they printed. It stays small, so starting a program costs it little, where
 * a fork of the large worker process would block the worker's event loop for milliseconds each.
 */
import { execFile } from 'node:child_process';
import type { SpawnReply, SpawnRequest } from './spawner';

function reply(message: SpawnReply): void {
  process.send?.(message);
}

process.on('message', (request: SpawnRequest) => {
  const child = execFile(
    request.file,
    request.args,
    { encoding: 'buffer', maxBuffer: request.maxBuffer, env: request.env },
    (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown }) | null;
      reply({
        id: request.id,
        stdout: Buffer.from(stdout).toString('base64'),
        stderr: Buffer.from(stderr).toString('base64'),
        error: e ? { message: e.message, code: typeof e.code === 'number' ? e.code : undefined } : undefined,
      });
    },
  );
  child.stdin?.end(request.input === undefined ? undefined : Buffer.from(request.input, 'base64'));
});
process.on('disconnect', () => process.exit(0));
