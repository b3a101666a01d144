/**
 * A model's tool calls as Arbiter keeps them. Each call id and name travels through the
 * conversation's workflow history and memory, and the model chooses them.
 */
import { clipText, escapeNul } from '../domain/bounds';

/** Tool calls one model turn may make; real models ask for a handful at once. */
export const MAX_TOOL_CALLS_PER_TURN = 32;
const MAX_TOOL_NAME = 64;

type ToolCall = { id: string; type?: string; function: { name: string; arguments: string } };

/**
 * The calls of one model turn as they are stored and run (null when it made none): a turn runs
 * at most MAX_TOOL_CALLS_PER_TURN calls (the transcript shows the model only those), an id that
 * is not a short token (or repeats one, of this turn or of an `earlier` one) is replaced by one of
 * ours, a name is clipped, and NUL is escaped.
 */
export function keptToolCalls(
  calls: unknown,
  turn: number,
  earlier: ReadonlySet<string> = new Set(),
): ToolCall[] | null {
  const objects = Array.isArray(calls) ? calls.filter((c): c is ToolCall => !!c && typeof c === 'object') : [];
  if (!objects.length) return null;
  const kept = objects.slice(0, MAX_TOOL_CALLS_PER_TURN);
  const usable = (id: unknown): id is string => typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id);
  // An id an earlier turn used would find that turn's result and never run (some servers reuse them).
  const seen = new Set<string>(earlier);
  const taken = new Set(kept.map((c) => c.id).filter(usable));
  return kept.map((c, i) => {
    let id = usable(c.id) && !seen.has(c.id) ? c.id : `arbiter_${turn}_${i}`;
    while (seen.has(id) || (id !== c.id && taken.has(id))) id = `${id}_`;
    seen.add(id);
    const name = escapeNul(clipText(String(c.function?.name ?? ''), MAX_TOOL_NAME));
    return { id, type: 'function', function: { name, arguments: escapeNul(String(c.function?.arguments ?? '')) } };
  });
}
