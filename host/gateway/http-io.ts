/**
 * The gateway's HTTP ends for a sandboxed agent: request bodies read within the session's bytes
 * in flight, replies sent no faster than the agent reads them.
 */
import type * as http from 'node:http';
import type { ResponseSink } from './model-call';
import { MAX_REQUEST_BYTES_IN_FLIGHT, type GatewaySession } from './session';

/** Largest request body the gateway reads (a long conversation with its tool results and images); Arbiter's own loop keeps to it too. */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/**
 * How long a reply waits for the agent to read what it was sent. Past it the agent is sent no
 * more of the reply, which is still read to its end, for its usage and digest.
 */
const REPLY_STALL_MS = 30_000;

/** Resolves true when `res` drained, false when it closed, `stop` aborted, or the stall limit passed. */
function drained(res: http.ServerResponse, stop: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain).off('close', onClose);
      stop.removeEventListener('abort', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    if (stop.aborted) return resolve(false);
    const timer = setTimeout(onClose, REPLY_STALL_MS);
    res.once('drain', onDrain).once('close', onClose);
    stop.addEventListener('abort', onClose, { once: true });
  });
}

/**
 * Sends a reply to the agent as fast as it reads it. An agent that stops reading (its relay
 * frozen) made the worker buffer every byte the upstream sent: cheap model output by the gigabyte.
 */
export function responseSink(res: http.ServerResponse, stop: AbortSignal): ResponseSink {
  let detached = false;
  return {
    start: (status, headers) => void res.writeHead(status, headers),
    write: async (chunk) => {
      if (detached || res.destroyed || res.write(chunk)) return;
      if (await drained(res, stop)) return;
      detached = true;
      res.destroy();
    },
    end: () => void res.end(),
  };
}

/**
 * The request's body, held against the session's bytes in flight (the caller lets go of
 * `held`); the reason it was refused instead.
 */
export async function readBody(
  req: http.IncomingMessage,
  session: GatewaySession,
): Promise<{ body: Buffer; held: number } | { refused: string; again: boolean }> {
  const chunks: Buffer[] = [];
  let held = 0;
  try {
    for await (const chunk of req) {
      const size = (chunk as Buffer).length;
      if (held + size > MAX_REQUEST_BYTES) throw new BodyRefused('request body too large', false);
      if (!session.holdBytes(size))
        throw new BodyRefused(`more than ${MAX_REQUEST_BYTES_IN_FLIGHT / 2 ** 20} MiB of requests at once`, true);
      held += size;
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    session.releaseBytes(held);
    if (err instanceof BodyRefused) return { refused: err.message, again: err.again };
    throw err;
  }
  return { body: Buffer.concat(chunks), held };
}

/** A body refused while read; `again` when asking again later may pass (too much in flight, not too large). */
class BodyRefused extends Error {
  constructor(
    message: string,
    readonly again: boolean,
  ) {
    super(message);
  }
}
