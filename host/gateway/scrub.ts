/**
 * An upstream's reply may echo the request it got, the key's header included (some proxies and
 * self-hosted servers print the Authorization header on a 401; a debugging proxy may echo it in a
 * success). The agent reads that reply, the call's record stores it, and the `openai` kind's
 * failure puts it in workflow history, so the worker's key is replaced in every reply before
 * anyone reads it: a refusal read whole (and bounded), a success as it streams.
 */

/** Longer refusals are cut here: an error page is small, and the rest is not worth holding. */
const REFUSAL_BYTES = 1024 * 1024;
/** Statuses whose replies carry no body (`new Response` refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/** What replaces the key. */
export const KEY_MASK = '***';

/** The refusal's first {@link REFUSAL_BYTES}, and what broke it off (a cut is reported as one). */
async function readRefusal(body: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; broken?: unknown }> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      chunks.push(Buffer.from(chunk));
      total += chunk.length;
      if (total > REFUSAL_BYTES)
        return {
          bytes: Buffer.concat(chunks).subarray(0, REFUSAL_BYTES),
          broken: new Error(`upstream refusal longer than ${REFUSAL_BYTES} bytes; cut`),
        };
    }
  } catch (err) {
    return { bytes: Buffer.concat(chunks), broken: err };
  }
  return { bytes: Buffer.concat(chunks) };
}

/** The length of the longest end of `text` that is a start of `secret` (shorter than all of it). */
function startOfSecretAtEnd(text: string, secret: string): number {
  for (let n = Math.min(secret.length - 1, text.length); n > 0; n--) if (text.endsWith(secret.slice(0, n))) return n;
  return 0;
}

/**
 * Masks every `key` in a stream as it passes. A chunk's end that could begin the key waits for the
 * next chunk (most chunks end with none, so a streamed reply is not delayed); at the stream's end
 * it is sent as it is, and if the stream breaks it is dropped, like a cut refusal's.
 */
export function keyMaskingStream(key: string): TransformStream<Uint8Array, Uint8Array> {
  const secret = Buffer.from(key).toString('latin1');
  let held = '';
  return new TransformStream({
    transform(chunk, controller) {
      const parts = (held + Buffer.from(chunk).toString('latin1')).split(secret);
      const tail = parts.pop() ?? '';
      const wait = startOfSecretAtEnd(tail, secret);
      held = tail.slice(tail.length - wait);
      const out = [...parts, tail.slice(0, tail.length - wait)].join(KEY_MASK);
      if (out) controller.enqueue(Buffer.from(out, 'latin1'));
    },
    flush(controller) {
      if (held) controller.enqueue(Buffer.from(held, 'latin1'));
    },
  });
}

/** `bytes` with every `key` masked, and, when `cut`, a start of the key it ends with. */
function masked(bytes: Buffer, key: string, cut: boolean): Buffer {
  // latin1 maps bytes one to one, so the reply's other bytes pass unchanged.
  const secret = Buffer.from(key).toString('latin1');
  const text = bytes.toString('latin1').split(secret).join(KEY_MASK);
  const n = cut ? startOfSecretAtEnd(text, secret) : 0;
  return Buffer.from(n ? `${text.slice(0, -n)}${KEY_MASK}` : text, 'latin1');
}

/**
 * `response` with every `key` masked: a success streamed through {@link keyMaskingStream}, a
 * refusal cut to its first {@link REFUSAL_BYTES}; what broke the reading off still breaks the
 * reply, so the call is recorded as cut.
 */
export async function withoutKey(response: Response, key: string | undefined): Promise<Response> {
  if (!key || !response.body || NO_BODY.has(response.status)) return response;
  const { status, statusText, headers } = response;
  if (response.ok)
    return new Response(response.body.pipeThrough(keyMaskingStream(key)), { status, statusText, headers });
  const { bytes, broken } = await readRefusal(response.body);
  const reply = masked(bytes, key, broken !== undefined);
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(reply);
      } else if (broken !== undefined) controller.error(broken);
      else controller.close();
    },
  });
  return new Response(body, { status, statusText, headers });
}
