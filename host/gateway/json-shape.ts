/**
 * A request body's JSON shape, read before it is parsed. Parsing costs the worker's main thread
 * by the values a body holds, not its bytes: 32 MiB of text parses in 50 ms, 32 MiB of empty
 * objects (eleven million) took 6.3 s, and the check and re-serialisation after it as long again.
 * An agent with 8 calls in flight, each refused at no cost to its budget, held the thread (and
 * every activity's heartbeat on it) for most of a minute at a time. A real conversation holds
 * tens of thousands of values; one scan of the bytes, about 0.1 s for 32 MiB, refuses the rest.
 */

/** The most values (objects, arrays, members and elements) a body may hold. */
export const MAX_JSON_VALUES = 500_000;
/** The deepest a body may nest. */
export const MAX_JSON_DEPTH = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** The index of the quote that closes the string opened at `open` (a quote after an even run of backslashes), or -1. */
function closingQuote(body: Uint8Array, open: number): number {
  let at = open;
  for (;;) {
    at = body.indexOf(QUOTE, at + 1);
    if (at < 0) return -1;
    let escapes = 0;
    while (body[at - 1 - escapes] === BACKSLASH) escapes++;
    if (escapes % 2 === 0) return at;
  }
}

/** Why `body` holds too many values or nests too deep to parse, or undefined. Malformed JSON is left to the parser. */
export function jsonShapeProblem(body: Uint8Array): string | undefined {
  return shapeProblem(body, { values: 0 });
}

/**
 * {@link jsonShapeProblem} over documents parsed one by one (a stream's events), their values
 * counted together. Each is scanned on its own: joined, a quote left open in one hid the next
 * one's values from the count (found in review).
 */
export function documentsShapeProblem(documents: readonly string[]): string | undefined {
  const count = { values: 0 };
  for (const document of documents) {
    const problem = shapeProblem(Buffer.from(document), count);
    if (problem) return problem;
  }
  return undefined;
}

function shapeProblem(body: Uint8Array, count: { values: number }): string | undefined {
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      i = closingQuote(body, i);
      if (i < 0) return undefined;
    } else if (c === COMMA || c === COLON) {
      if (++count.values > MAX_JSON_VALUES) return `the body holds more than ${MAX_JSON_VALUES} JSON values`;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++count.values > MAX_JSON_VALUES) return `the body holds more than ${MAX_JSON_VALUES} JSON values`;
      if (++depth > MAX_JSON_DEPTH) return `the body nests deeper than ${MAX_JSON_DEPTH} levels`;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return undefined;
}
