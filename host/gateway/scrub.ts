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
/** The highest status HTTP defines. */
const MAX_STATUS = 599;
/**
 * The content codings fetch decodes. A reply in any other (or in a list naming one, `gzip,
 * identity` included) reaches the gateway as it came, compressed, where no key can be found.
 */
const DECODED_CODINGS = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/** What replaces the key. */
export const KEY_MASK = '***';

/**
 * The key as the upstream got it and may echo it, as latin1 strings (one character a byte): as
 * fetch sends it (HTTP whitespace at its ends dropped, which a CRLF env file leaves; a character
 * a byte), as UTF-8, for a server that decoded the header and printed it again, and escaped in a
 * JSON string (PHP's `\/` too).
 */
function keyForms(key: string): string[] {
  const sent = key.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  const inJson = JSON.stringify(sent).slice(1, -1);
  const forms = [sent, Buffer.from(sent).toString('latin1'), inJson, inJson.replaceAll('/', '\\/')];
  return [...new Set(forms)].filter((form) => form.length > 0);
}

/** `text` (a message, a header value) with every form of `key` masked. */
export function maskKeyIn(text: string, key: string | undefined): string {
  if (!key) return text;
  return keyForms(key).reduce((masked, form) => masked.split(form).join(KEY_MASK), text);
}

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

/** Masks one form of the key as it streams past; see {@link keyMaskingStream}. */
function formMaskingStream(secret: string): TransformStream<Uint8Array, Uint8Array> {
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

/**
 * Masks every form of `key` in a stream as it passes. A chunk's end that could begin the key waits
 * for the next chunk (most chunks end with none, so a streamed reply is not delayed); at the
 * stream's end it is sent as it is, and if the stream breaks it is dropped, like a cut refusal's.
 */
export function keyMaskingStream(key: string): {
  writable: WritableStream<Uint8Array>;
  readable: ReadableStream<Uint8Array>;
} {
  const stages = keyForms(key).map(formMaskingStream);
  if (stages.length === 0) return new TransformStream();
  for (let i = 1; i < stages.length; i++) stages[i - 1].readable.pipeTo(stages[i].writable).catch(() => undefined);
  return { writable: stages[0].writable, readable: stages[stages.length - 1].readable };
}

/**
 * `bytes` with every form of `key` masked; when `cut`, its last bytes (one fewer than the longest
 * form) are dropped for the mask whatever they hold. Masking only a start of the key found there
 * told an agent whose padded guess the refusal echoed at the cut whether the guess began the key:
 * the whole key, a character at a time.
 */
function masked(bytes: Buffer, key: string, cut: boolean): Buffer {
  // latin1 maps bytes one to one, so the reply's other bytes pass unchanged.
  const text = maskKeyIn(bytes.toString('latin1'), key);
  if (!cut) return Buffer.from(text, 'latin1');
  const longest = Math.max(0, ...keyForms(key).map((form) => form.length));
  return Buffer.from(`${text.slice(0, Math.max(0, text.length - (longest - 1)))}${KEY_MASK}`, 'latin1');
}

/** True when fetch left the body as it came, encoded in a way the gateway cannot search. */
function undecoded(headers: Headers): boolean {
  const coding = headers.get('content-encoding');
  return (
    coding !== null &&
    !coding
      .toLowerCase()
      .split(',')
      .every((c) => DECODED_CODINGS.has(c.trim()))
  );
}

/** A body that sends `bytes`, then ends or breaks with `broken`. */
function bodyOf(bytes: Buffer, broken?: unknown): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent && bytes.length) controller.enqueue(bytes);
      else if (broken !== undefined) controller.error(broken);
      else controller.close();
      sent = true;
    },
  });
}

/** `response` unread, its body breaking with `reason` so the call is recorded as cut. */
async function brokenOff(response: Response, reason: string, status = response.status): Promise<Response> {
  await response.body?.cancel();
  return new Response(bodyOf(Buffer.alloc(0), new Error(reason)), { status, headers: response.headers });
}

/**
 * `response` with every `key` masked: a success streamed through {@link keyMaskingStream}, a
 * refusal cut to its first {@link REFUSAL_BYTES}; what broke the reading off still breaks the
 * reply, so the call is recorded as cut. A body fetch could not decode is broken off unread, and
 * so is a reply under a status HTTP does not define (a 502 then), which `new Response` refuses.
 */
export async function withoutKey(response: Response, key: string | undefined): Promise<Response> {
  if (response.status > MAX_STATUS)
    return brokenOff(response, `the upstream answered with status ${response.status}, which HTTP does not define`, 502);
  if (!key || !response.body || NO_BODY.has(response.status)) return response;
  // Not the reason phrase: no one reads it, and one `new Response` refuses (a control or non-ASCII byte) would throw.
  const { status, headers } = response;
  if (undecoded(headers))
    return brokenOff(response, 'the upstream replied in a content coding the gateway cannot decode to mask its key');
  if (response.ok) return new Response(response.body.pipeThrough(keyMaskingStream(key)), { status, headers });
  const { bytes, broken } = await readRefusal(response.body);
  return new Response(bodyOf(masked(bytes, key, broken !== undefined), broken), { status, headers });
}
