/**
 * An upstream's refusal may echo the request it got, the key's header included (some proxies and
 * self-hosted servers print the Authorization header on a 401). The agent reads that reply, the
 * call's record stores it, and the `openai` kind's failure puts it in workflow history, so the
 * worker's key is replaced in any reply that is not a success before anyone reads it.
 */

/** Longer refusals are cut here: an error page is small, and the rest is not worth holding. */
const REFUSAL_BYTES = 1024 * 1024;
/** Statuses whose replies carry no body (`new Response` refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/** What replaces the key. */
export const KEY_MASK = '***';

/** `response`, or, when it is not a success, its first {@link REFUSAL_BYTES} with every `key` masked. */
export async function withoutKey(response: Response, key: string | undefined): Promise<Response> {
  if (!key || response.ok || !response.body || NO_BODY.has(response.status)) return response;
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(Buffer.from(chunk as Uint8Array));
      bytes += chunks[chunks.length - 1].length;
      if (bytes >= REFUSAL_BYTES) break;
    }
  } catch {
    // Broken off (the session closed, the upstream went away): what arrived is the reply.
  }
  // latin1 maps bytes one to one, so the reply's other bytes pass unchanged.
  const text = Buffer.concat(chunks).subarray(0, REFUSAL_BYTES).toString('latin1');
  const masked = Buffer.from(text.split(Buffer.from(key).toString('latin1')).join(KEY_MASK), 'latin1');
  return new Response(masked, { status: response.status, statusText: response.statusText, headers: response.headers });
}
