/**
 * The success path's masking streams: a key split across chunks at any point, repeated, or
 * overlapping itself must come out masked exactly as if the reply had been masked whole, and a
 * start of the key that a chunk ends with must not leak when the stream breaks.
 */
import assert from 'node:assert/strict';
import { KEY_MASK, keyMaskingStream, maskKeyIn, withoutKey } from '../../host/gateway/scrub';

/** `text` (a byte a character) cut at `cuts`, through the masking stream; what came out, and whether it broke. */
async function throughMask(key: string, text: string, cuts: number[], breakAtEnd = false) {
  const bounds = [0, ...cuts, text.length];
  let next = 1;
  // Pulled one chunk at a time: an error raised with chunks still queued would discard them.
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < bounds.length) controller.enqueue(Buffer.from(text.slice(bounds[next - 1], bounds[next++]), 'latin1'));
      else if (breakAtEnd) controller.error(new Error('upstream broke'));
      else controller.close();
    },
  });
  const out: Buffer[] = [];
  try {
    for await (const chunk of source.pipeThrough(keyMaskingStream(key))) out.push(Buffer.from(chunk));
    return { text: Buffer.concat(out).toString('latin1'), broke: false };
  } catch {
    return { text: Buffer.concat(out).toString('latin1'), broke: true };
  }
}

const whole = (key: string, text: string) => text.split(key).join(KEY_MASK);

describe('model gateway: masking a streamed reply', () => {
  it('masks a key cut at every point, once or twice in one cut, as masking the whole reply does', async () => {
    const key = 'sk-real-upstream-key';
    const text = `data: {"echo":"Bearer ${key}"}\n\ndata: {"again":"${key}${key}"}\n\n`;
    for (let a = 1; a < text.length; a++) {
      const { text: out } = await throughMask(key, text, [a]);
      assert.equal(out, whole(key, text), `cut at ${a}`);
    }
    for (let a = 1; a < text.length; a += 3)
      for (let b = a + 1; b < text.length; b += 5) {
        const { text: out } = await throughMask(key, text, [a, b]);
        assert.equal(out, whole(key, text), `cut at ${a} and ${b}`);
      }
  });

  it('masks a key that overlaps itself, cut anywhere, as masking the whole reply does', async () => {
    const key = 'abab';
    for (const text of ['xababab', 'abababab', 'aababa', 'ab', 'ba', 'xabaabab']) {
      for (let a = 1; a < text.length; a++)
        assert.equal((await throughMask(key, text, [a])).text, whole(key, text), `${text} cut at ${a}`);
    }
  });

  it('sends, unchanged and undelayed, a reply that holds no start of the key at a chunk end', async () => {
    const key = 'sk-real-upstream-key';
    const text = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n';
    const { text: out } = await throughMask(key, text, [10, 20]);
    assert.equal(out, text);
  });

  it('drops a start of the key that a broken stream ended with', async () => {
    const key = 'sk-real-upstream-key';
    const { text: out, broke } = await throughMask(key, 'data: sk-real-ups', [8], true);
    assert.ok(broke);
    assert.equal(out, 'data: ');
  });

  it('masks the key as fetch sent it (a byte a character, its ends trimmed) and as UTF-8', async () => {
    const key = ' sk-clé\r\n';
    const sent = Buffer.from('sk-cl\u00e9', 'latin1').toString('latin1');
    const utf8 = Buffer.from('sk-clé').toString('latin1');
    const text = `a ${sent} b ${utf8} c`;
    for (let a = 1; a < text.length; a++)
      assert.equal((await throughMask(key, text, [a])).text, 'a *** b *** c', `cut at ${a}`);
    assert.equal(maskKeyIn(`refused "Bearer sk-clé"`, key), 'refused "Bearer ***"');
  });

  it("masks the key escaped in a JSON string, PHP's escaped slash too", () => {
    const key = 'sk-a/b"c';
    assert.equal(maskKeyIn('{"k":"sk-a/b\\"c","p":"sk-a\\/b\\"c"}', key), '{"k":"***","p":"***"}');
  });
});

/** What a refusal of `text` reads as through the gateway: its bytes, up to where it broke. */
async function refusalRead(key: string, text: string): Promise<string> {
  const response = await withoutKey(new Response(text, { status: 422 }), key);
  const out: Buffer[] = [];
  try {
    for await (const chunk of response.body ?? []) out.push(Buffer.from(chunk as Uint8Array));
  } catch {
    // Cut: what came before is what the agent and the record get.
  }
  return Buffer.concat(out).toString('latin1');
}

describe('model gateway: a refusal cut at 1 MiB', () => {
  it('reads the same whether or not the guess an agent padded up to the cut begins the key', async () => {
    const key = 'sk-real-upstream-key';
    const at = (guess: string) => `${'a'.repeat(1024 * 1024 - guess.length)}${guess}${'z'.repeat(100)}`;
    const right = await refusalRead(key, at('sk-real-u'));
    const wrong = await refusalRead(key, at('sk-real-X'));
    assert.equal(right, wrong, 'the cut tells nothing about the guess');
    assert.ok(right.endsWith(`a${KEY_MASK}`));
    assert.doesNotMatch(right, /sk-real/);
  });
});
