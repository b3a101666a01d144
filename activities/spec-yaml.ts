/**
 * Reading a submitter's spec text. YAML aliases make a document a graph: the parser returns one
 * object for every use of an anchor, so a few lines of aliases to aliases describe a value whose
 * JSON form is astronomically large. The parser's own alias limit does not count aliases of
 * empty collections, so the parsed value's expanded size is measured here too, before anything
 * serialises it (storing the spec, sending it through history) and hangs the worker doing so.
 */
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { SpecInvalidError } from '../domain/errors';

/** Alias expansions one spec may make; a real spec uses a handful, a billion-laughs document millions. */
const MAX_ALIAS_COUNT = 100;
/** Values (scalars and collections) a spec may hold once every alias is expanded. */
export const MAX_EXPANDED_NODES = 50_000;
/** Nesting a spec may use; the deepest CAWS field is four levels down. */
const MAX_NESTING = 32;
/** Indentation a line may have: block nesting 360 deep parses in 22 ms, and 256 columns allow at most that. */
const MAX_INDENT = 256;

/**
 * Parses untrusted YAML text. Whatever goes wrong is the text's problem, never retried: a syntax
 * error names its line, and an alias bomb is refused at once rather than thrown as a plain
 * ReferenceError or serialised until the worker runs out of memory.
 */
export function parseSpecYaml(text: string): unknown {
  const nesting = nestingProblem(text);
  if (nesting) throw new SpecInvalidError([`YAML cannot be read: ${nesting}`]);
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true, maxAliasCount: MAX_ALIAS_COUNT, logLevel: 'error' });
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (err instanceof YAMLParseError) throw new SpecInvalidError([`YAML: ${message}`]);
    throw new SpecInvalidError([`YAML cannot be read: ${message}`]);
  }
  const problem = expansionProblem(value);
  if (problem) throw new SpecInvalidError([`YAML cannot be read: ${problem}`]);
  return value;
}

/**
 * Why `text` nests too deep for the parser, read before the parser sees it: the parser recurses
 * once per level, and a thousand levels overflowed its stack (a second such parse aborted the
 * process). Levels come from unclosed `[` and `{` (inside quoted strings too, which can only
 * refuse), from `- ` and `? ` indicators stacked on one line, and from indentation.
 */
function nestingProblem(text: string): string | null {
  if (flowDepth(text) > MAX_NESTING) return `it nests more than ${MAX_NESTING} brackets deep`;
  for (const line of text.split('\n')) {
    const indent = /^[ \t]*/.exec(line)?.[0].length ?? 0;
    if (indent > MAX_INDENT) return `a line is indented more than ${MAX_INDENT} columns`;
    const stacked = /^(?:[-?:][ \t]+)*/.exec(line.slice(indent))?.[0].replace(/[ \t]/g, '').length ?? 0;
    if (stacked > MAX_NESTING) return `a line opens more than ${MAX_NESTING} collections at once`;
  }
  return null;
}

/** The deepest run of unclosed `[` and `{` in `text`. */
function flowDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  for (const c of text) {
    if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if ((c === ']' || c === '}') && depth > 0) depth -= 1;
  }
  return deepest;
}

/** Why `value` is too big or too deep once its aliases are expanded, or null. Stops counting at the limit. */
function expansionProblem(value: unknown): string | null {
  let nodes = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length) {
    const next = stack.pop() as { value: unknown; depth: number };
    nodes += 1;
    if (nodes > MAX_EXPANDED_NODES) return `it expands to more than ${MAX_EXPANDED_NODES} values (aliases of aliases?)`;
    if (next.depth > MAX_NESTING) return `it nests more than ${MAX_NESTING} levels deep`;
    if (next.value === null || typeof next.value !== 'object') continue;
    const children = Array.isArray(next.value) ? next.value : Object.values(next.value);
    for (const child of children) stack.push({ value: child, depth: next.depth + 1 });
  }
  return null;
}
