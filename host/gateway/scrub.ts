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

/** `bytes` with every `key` masked, and, when `cut`, a start of the key it ends with. */
function masked(bytes: Buffer, key: string, cut: boolean): Buffer {
  // latin1 maps bytes one to one, so the reply's other bytes pass unchanged.
  const secret = Buffer.from(key).toString('latin1');
  let text = bytes.toString('latin1').split(secret).join(KEY_MASK);
  for (let n = secret.length - 1; cut && n > 0; n--)
    if (text.endsWith(secret.slice(0, n))) {
      text = `${text.slice(0, -n)}${KEY_MASK}`;
      break;
    }
  return Buffer.from(text, 'latin1');
}

/**
 * `response`, or, when it is not a success, its first {@link REFUSAL_BYTES} with every `key`
 * masked; what broke the reading off still breaks the reply, so the call is recorded as cut.
 */
export async function withoutKey(response: Response, key: string | undefined): Promise<Response> {
  if (!key || response.ok || !response.body || NO_BODY.has(response.status)) return response;
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
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
