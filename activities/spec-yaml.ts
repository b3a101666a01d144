/**
 * Reading a submitter's spec text. YAML aliases make a document a graph: the parser returns one
 * object for every use of an anchor, so a few lines of aliases to aliases describe a value whose
 * JSON form is astronomically large. The parser's own alias limit does not count aliases of
 * empty collections, so the parsed value's expanded size is measured here too, before anything
 * serialises it (storing the spec, sending it through history) and hangs the worker doing so.
 */
import { parse as parseYaml, Parser, YAMLParseError } from 'yaml';
import { SpecInvalidError } from '../domain/errors';

/** Alias expansions one spec may make; a real spec uses a handful, a billion-laughs document millions. */
const MAX_ALIAS_COUNT = 100;
/** Values (scalars and collections) a spec may hold once every alias is expanded. */
export const MAX_EXPANDED_NODES = 50_000;
/**
 * Characters (strings and keys) a spec may hold once every alias is expanded: four times the
 * largest spec text. Counting values alone, 99 aliases of one 64 KiB string were stored as a spec
 * of 19 MB, read again by every step and tool call of the task (found in review).
 */
export const MAX_EXPANDED_CHARACTERS = 256 * 1024;
/** Nesting a spec may use; the deepest CAWS field is four levels down. */
const MAX_NESTING = 32;
/** The same bound in syntax-tree levels (an item and its value are two; CAWS specs reach 8). */
const MAX_SYNTAX_DEPTH = 2 * MAX_NESTING + 8;
/**
 * Entries one mapping or list may have: the parser compares each key with every earlier one, and
 * ten thousand keys took a second. CAWS specs have a few dozen.
 */
const MAX_COLLECTION_ITEMS = 2000;
/** Where a syntax-tree node holds its children. */
const SYNTAX_CHILDREN = ['start', 'key', 'sep', 'value', 'items', 'end', 'props'];

/**
 * Parses untrusted YAML text. Whatever goes wrong is the text's problem, never retried: a syntax
 * error names its line, and an alias bomb is refused at once rather than thrown as a plain
 * ReferenceError or serialised until the worker runs out of memory.
 */
export function parseSpecYaml(text: string): unknown {
  const syntax = syntaxProblem(text);
  if (syntax) throw new SpecInvalidError([syntax]);
  let value: unknown;
  try {
    // Not `prettyErrors`: it scans the whole line for each error, and a line can hold thousands.
    value = parseYaml(text, { prettyErrors: false, maxAliasCount: MAX_ALIAS_COUNT, logLevel: 'error' });
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    if (err instanceof YAMLParseError)
      throw new SpecInvalidError([`YAML: ${message} at line ${lineOf(text, err.pos[0])}`]);
    throw new SpecInvalidError([`YAML cannot be read: ${message}`]);
  }
  const problem = expansionProblem(value);
  if (problem) throw new SpecInvalidError([`YAML cannot be read: ${problem}`]);
  return value;
}

/**
 * What is wrong with `text` before the parser builds values from it: building recurses once per
 * level, and a thousand levels overflowed its stack (a second such parse then aborted the
 * process). The parser's first stage (a concrete syntax tree) is iterative, so the tree is built
 * first and walked without recursion; quoting, tags, anchors and comments cannot hide a level
 * from it, as they could from a scan of the text. A syntax error is reported from the tree too:
 * the parser's own report scans the whole line for each error, and a line of 65,536 `]` (each an
 * error) took seconds.
 */
function syntaxProblem(text: string): string | null {
  for (const document of new Parser().parse(text)) {
    const pending: Array<{ node: unknown; depth: number }> = [{ node: document, depth: 0 }];
    while (pending.length) {
      const { node, depth } = pending.pop() as { node: unknown; depth: number };
      if (depth > MAX_SYNTAX_DEPTH) return `YAML cannot be read: it nests more than ${MAX_NESTING} levels deep`;
      if (!node || typeof node !== 'object') continue;
      const token = node as { type?: string; message?: string; offset?: number };
      if (token.type === 'error') return `YAML: ${token.message} at line ${lineOf(text, token.offset ?? 0)}`;
      const items = (node as { items?: unknown[] }).items;
      if (Array.isArray(items) && items.length > MAX_COLLECTION_ITEMS)
        return `YAML cannot be read: a mapping or list has more than ${MAX_COLLECTION_ITEMS} entries`;
      for (const key of SYNTAX_CHILDREN) {
        const child = (node as Record<string, unknown>)[key];
        for (const c of Array.isArray(child) ? child : [child])
          if (c && typeof c === 'object') pending.push({ node: c, depth: depth + 1 });
      }
    }
  }
  return null;
}

/** The 1-based line of `offset` in `text`. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line += 1;
  return line;
}

/** Why `value` is too big or too deep once its aliases are expanded, or null. Stops counting at the limit. */
function expansionProblem(value: unknown): string | null {
  let nodes = 0;
  let characters = 0;
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length) {
    const next = stack.pop() as { value: unknown; depth: number };
    nodes += 1;
    if (nodes > MAX_EXPANDED_NODES) return `it expands to more than ${MAX_EXPANDED_NODES} values (aliases of aliases?)`;
    if (next.depth > MAX_NESTING) return `it nests more than ${MAX_NESTING} levels deep`;
    if (typeof next.value === 'string') characters += next.value.length;
    if (characters > MAX_EXPANDED_CHARACTERS)
      return `it expands to more than ${MAX_EXPANDED_CHARACTERS} characters of text (aliases of long strings?)`;
    if (next.value === null || typeof next.value !== 'object') continue;
    // YAML 1.1's !!omap, !!pairs and !!set make Maps and Sets, whose entries the walk below would not see.
    if (next.value instanceof Map || next.value instanceof Set) return 'it holds !!omap, !!pairs or !!set values';
    if (Array.isArray(next.value)) for (const child of next.value) stack.push({ value: child, depth: next.depth + 1 });
    else
      for (const [key, child] of Object.entries(next.value)) {
        characters += key.length;
        stack.push({ value: child, depth: next.depth + 1 });
      }
  }
  return null;
}
